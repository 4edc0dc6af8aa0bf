"""SeqGAN (Yu et al. 2017): sequence generation as imitation learning.

Generating a sequence ``Y = (y_1, ..., y_L)`` token by token is an episode: the state is the prefix
``y_{1:t-1}``, the action is the next token, and the generator ``G_theta(y_t | y_{1:t-1})`` is the policy.
Maximum likelihood on real sequences is behaviour cloning; SeqGAN is the adversarial alternative:

- a discriminator ``D(Y) = P(real | Y)`` is trained to tell real sequences from generated ones;
- the generator is trained by REINFORCE on the return ``D(Y)``, only given at the end of the episode; the
  value of an intermediate action is estimated by Monte Carlo: complete the prefix ``M`` times with a
  *rollout policy* ``G_beta`` (a slowly updated copy of ``G_theta``) and average ``D`` over the completions:

      Q(y_{1:t-1}, y_t) = 1/M sum_m D(y_{1:t}, Y^m_{t+1:L}),  Y^m ~ G_beta(. | y_{1:t})   for t < L
      Q(y_{1:L-1}, y_L) = D(y_{1:L})

      grad J = E_Y [ sum_t Q(y_{1:t-1}, y_t) grad log G_theta(y_t | y_{1:t-1}) ]

Everything here is a pure function of pytrees; sampling and rollouts are ``lax.scan`` over time and
``jax.vmap`` over prefixes and rollouts. Token id ``vocab`` is the start symbol. Sequences are ``int32 [B, L]``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal

import chex
import jax
import jax.numpy as jnp
import optax

from jirl.algorithms.gail import reward_from_logits
from jirl.algorithms.maxent_irl import pearson
from jirl.nets import LSTMTokenModel, SequenceCNN, lstm_zero_carry


@dataclasses.dataclass(frozen=True)
class SeqGANConfig:
    """Model and optimisation settings of SeqGAN (generator, rollout policy, discriminator)."""

    vocab: int = 5000
    """Vocabulary size (the paper's 5,000)."""
    seq_len: int = 20
    """Sequence length L."""
    emb: int = 32
    """Token embedding size of the generator (and of the oracle)."""
    hidden: int = 32
    """LSTM hidden size of the generator (and of the oracle)."""
    batch_size: int = 64
    """Sequences per generator / discriminator minibatch."""
    mle_lr: float = 1e-2
    """Adam learning rate of maximum-likelihood training."""
    pg_lr: float = 1e-2
    """Adam learning rate of the adversarial (policy-gradient) generator updates."""
    max_grad_norm: float = 5.0
    """Global gradient-norm clip of the generator updates."""
    num_rollouts: int = 16
    """Monte Carlo completions M per prefix."""
    rollout_decay: float = 0.8
    """Rollout policy update after each generator step: beta <- decay * beta + (1 - decay) * theta."""
    reward: Literal["prob", "logit", "logd"] = "prob"
    """What a completed sequence Y earns: prob = D(Y) (the paper); logit = log D - log(1 - D), whose expectation
    under the generator is minus the reverse KL to the data up to the generator's entropy (it does not vanish
    when D saturates); logd = log D. Q averages this over the completions."""
    baseline: bool = False
    """Subtract the batch mean of Q at each position (a baseline; the paper uses none)."""
    disc: Literal["cnn", "lm-ratio", "bigram", "optimal"] = "cnn"
    """Discriminator: cnn = the paper's CNN over the whole sequence (d_emb, d_filters, d_dropout, d_l2);
    lm-ratio = AIRL's form for sequences (Fu et al. 2018): logit of D(Y) = log q(Y) - log G(Y), with q an LSTM
    language model of the generator's size and G the current generator. q starts at the split as a copy of the
    pre-trained generator (D = 1/2 everywhere) and is trained by the same cross-entropy; its optimum is q = the
    data distribution, whatever G is, so D's logit is the likelihood ratio by construction. bigram = the same
    form with q a bigram language model of the training corpus, estimated by counting (Witten-Bell smoothing
    towards the corpus's unigram frequencies; see bigram_model): the bigram family's maximum-likelihood fit (relative
    frequencies), smoothed; it does not depend on G, so no discriminator round trains it. optimal = a diagnostic,
    not a method: the Bayes-optimal discriminator D* = p/(p + G) between the oracle p and the current generator,
    computed exactly from the oracle's likelihood (lm-ratio with q = the oracle; nothing is trained). It bounds
    what the policy gradient can do with a perfect reward, i.e. how much of SeqGAN's result is the discriminator's."""
    d_emb: int = 64
    """Token embedding size of the discriminator."""
    d_filters: tuple[tuple[int, int], ...] = ((2, 64), (3, 64), (4, 64), (5, 64))
    """Discriminator convolutions as (width, filters)."""
    d_lr: float = 1e-4
    """Adam learning rate of the discriminator."""
    d_dropout: float = 0.0
    """Dropout rate on the discriminator's features while it trains (the paper: 0.25)."""
    d_l2: float = 0.0
    """Weight of an L2 penalty 0.5 * ||w||^2 on the discriminator's output layer (the paper: 0.2)."""


LIKELIHOOD_RATIO = ("lm-ratio", "optimal")
"""Discriminators whose logit is ``log q(Y) - log G(Y)`` for a generator-shaped language model q."""

UNTRAINED = ("bigram", "optimal")
"""Discriminators that no discriminator round trains: counted from the corpus once, or computed from the oracle."""

BIGRAM_MAX_VOCAB = 46_340
"""Largest vocabulary whose token-pair keys ``prev * vocab + next`` (prev up to the start symbol ``vocab``) fit int32."""

UNIGRAM_PSEUDOCOUNT = 0.1
"""Added to every token's corpus count in the bigram discriminator's unigram model, so unseen tokens keep some mass."""


@chex.dataclass(frozen=True)
class Learner:
    """Parameters and the optimizer state that updates them."""

    params: Any
    opt_state: Any


def generator(cfg: SeqGANConfig) -> LSTMTokenModel:
    return LSTMTokenModel(cfg.vocab, cfg.emb, cfg.hidden)


def discriminator(cfg: SeqGANConfig) -> SequenceCNN:
    return SequenceCNN(cfg.vocab, cfg.d_emb, cfg.d_filters, cfg.d_dropout)


def _clipped_adam(cfg: SeqGANConfig, lr: float) -> optax.GradientTransformation:
    return optax.chain(optax.clip_by_global_norm(cfg.max_grad_norm), optax.adam(lr))


def mle_optimizer(cfg: SeqGANConfig) -> optax.GradientTransformation:
    return _clipped_adam(cfg, cfg.mle_lr)


def pg_optimizer(cfg: SeqGANConfig) -> optax.GradientTransformation:
    return _clipped_adam(cfg, cfg.pg_lr)


def disc_optimizer(cfg: SeqGANConfig) -> optax.GradientTransformation:
    return optax.adam(cfg.d_lr)


def sample_categorical(key: chex.PRNGKey, logits: jax.Array) -> jax.Array:
    """Exact draw from ``softmax(logits)`` by inverting the CDF with one uniform per draw: ``[..., V] -> [...]``.

    The inversion runs in two levels: the vocabulary is cut into ~sqrt(V) blocks of ~sqrt(V) tokens, the uniform
    picks a block by the cumulative block masses, then a token inside that block: two cumulative sums of length
    ~sqrt(V) instead of one of length V, which is slow on a CPU (``experiments/seqgan_speed.py`` times both;
    :func:`sample_categorical_flat` is the one-level version). ``jax.random.categorical`` draws V Gumbel variates per token, slower still."""
    V = logits.shape[-1]
    size = math.isqrt(V - 1) + 1  # tokens per block, ceil(sqrt(V))
    blocks = -(-V // size)
    pad = [(0, 0)] * (logits.ndim - 1) + [(0, blocks * size - V)]
    p = jnp.pad(jnp.exp(logits - logits.max(axis=-1, keepdims=True)), pad)  # unnormalized; padding has mass 0
    p = p.reshape(*logits.shape[:-1], blocks, size)
    mass = p.sum(axis=-1)  # [..., blocks]
    cdf = jnp.cumsum(mass, axis=-1)
    u = jax.random.uniform(key, logits.shape[:-1] + (1,)) * cdf[..., -1:]
    b = jnp.minimum(jnp.sum(cdf < u, axis=-1), blocks - 1)  # the block holding u
    inner = jnp.take_along_axis(p, b[..., None, None], axis=-2)[..., 0, :]  # [..., size]
    below = jnp.take_along_axis(cdf - mass, b[..., None], axis=-1)  # mass of the blocks before b
    j = jnp.minimum(jnp.sum(below + jnp.cumsum(inner, axis=-1) < u, axis=-1), size - 1)
    return jnp.minimum(b * size + j, V - 1).astype(jnp.int32)


def sample_categorical_flat(key: chex.PRNGKey, logits: jax.Array) -> jax.Array:
    """The one-level inversion (jirl's sampler before 2026-12-07): one cumulative sum over all V logits, then the
    same uniform as :func:`sample_categorical`, so the two draw the same token up to float rounding. The reference
    for tests and ``experiments/seqgan_speed.py``."""
    cdf = jnp.cumsum(jax.nn.softmax(logits), axis=-1)
    u = jax.random.uniform(key, logits.shape[:-1] + (1,)) * cdf[..., -1:]
    return jnp.minimum(jnp.sum(cdf < u, axis=-1), logits.shape[-1] - 1).astype(jnp.int32)


def init_generator(cfg: SeqGANConfig, key: chex.PRNGKey):
    return generator(cfg).init(key, lstm_zero_carry(cfg.hidden, (1,)), jnp.zeros((1,), jnp.int32))


def init_oracle(cfg: SeqGANConfig, key: chex.PRNGKey, std: float = 1.0):
    """The synthetic "real data" source: a generator whose every parameter is drawn from N(0, std^2) (as in
    the paper), which makes its next-token distributions peaked and its sequences structured."""
    params = init_generator(cfg, key)
    leaves, treedef = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(jax.random.fold_in(key, 1), len(leaves))
    return jax.tree_util.tree_unflatten(treedef, [std * jax.random.normal(k, x.shape, x.dtype) for k, x in zip(keys, leaves, strict=True)])


def init_discriminator(cfg: SeqGANConfig, key: chex.PRNGKey, corpus: jax.Array | None = None):
    """The CNN's parameters, or for ``disc="lm-ratio"`` those of the language model q (a generator-shaped
    pytree; SeqGAN sets it to the pre-trained generator at the split, or for ``disc="optimal"`` to the oracle, see
    :func:`jirl.loops.seqgan.disc_from_generator`); for ``disc="bigram"`` the counts of ``corpus`` (see
    :func:`bigram_model`)."""
    if cfg.disc == "bigram":
        if corpus is None:
            raise ValueError('disc="bigram" is counted from the training corpus: pass corpus')
        return bigram_model(cfg, corpus)
    if cfg.disc in LIKELIHOOD_RATIO:
        return init_generator(cfg, key)
    return discriminator(cfg).init(key, jnp.zeros((1, cfg.seq_len), jnp.int32))


def _product_log_probs(logits: jax.Array, prev: jax.Array, temperature: float, product) -> jax.Array:
    """Next-token log-probabilities of the generator (logits / temperature), or with ``product = (table, w)`` of
    its product with a bigram model: ``(1 - w) log G + w log q(. | prev)``, renormalized (``table`` from
    :func:`bigram_table`)."""
    logp = jax.nn.log_softmax(logits / temperature)
    if product is None:
        return logp
    table, weight = product
    return jax.nn.log_softmax((1.0 - weight) * logp + weight * table[prev])


def sample(cfg: SeqGANConfig, params, key: chex.PRNGKey, num: int, temperature: float = 1.0, product=None) -> jax.Array:
    """``num`` sequences ``[num, L]`` drawn token by token from the generator with ``params`` (with ``product =
    (bigram table, weight)``: from its product with the bigram model, see :func:`_product_log_probs`)."""
    model = generator(cfg)

    def step(carry, k):
        state, prev = carry
        state, logits = model.apply(params, state, prev)
        # without a product, the plain scaled logits: the same draws as before the product existed
        scores = logits / temperature if product is None else _product_log_probs(logits, prev, temperature, product)
        tok = sample_categorical(k, scores)
        return (state, tok), tok

    start = jnp.full((num,), cfg.vocab, jnp.int32)
    _, toks = jax.lax.scan(step, (lstm_zero_carry(cfg.hidden, (num,)), start), jax.random.split(key, cfg.seq_len))
    return toks.T


def token_log_probs(cfg: SeqGANConfig, params, tokens: jax.Array, temperature: float = 1.0, product=None) -> jax.Array:
    """``log G(y_t | y_{1:t-1})`` for every position: ``[B, L] -> [B, L]`` (teacher forcing; the model's logits
    divided by ``temperature``, and the product with a bigram model if given, as in :func:`sample`)."""
    chex.assert_rank(tokens, 2)
    B, L = tokens.shape
    model = generator(cfg)
    inputs = jnp.concatenate([jnp.full((B, 1), cfg.vocab, tokens.dtype), tokens[:, :-1]], axis=1).T  # [L, B]

    def step(state, inp):
        prev, target = inp
        state, logits = model.apply(params, state, prev)
        logp = _product_log_probs(logits, prev, temperature, product)
        return state, jnp.take_along_axis(logp, target[:, None], axis=-1)[:, 0]

    _, logp = jax.lax.scan(step, lstm_zero_carry(cfg.hidden, (B,)), (inputs, tokens.T))
    return logp.T


def nll(cfg: SeqGANConfig, params, tokens: jax.Array, temperature: float = 1.0, product=None) -> jax.Array:
    """Mean negative log-likelihood per token of ``tokens`` under the model with ``params`` (nats). With the
    oracle's parameters and generated ``tokens`` this is the paper's metric NLL_oracle."""
    return -jnp.mean(token_log_probs(cfg, params, tokens, temperature, product))


def rank_correlation(a: jax.Array, b: jax.Array) -> jax.Array:
    """Spearman's rank correlation of two ``[N]`` vectors: :func:`jirl.algorithms.maxent_irl.pearson` of their
    ranks (ties, which do not occur for continuous scores, are ranked by position)."""
    chex.assert_rank([a, b], 1)
    chex.assert_equal_shape([a, b])
    rank = lambda x: jnp.argsort(jnp.argsort(x)).astype(jnp.float32)
    return pearson(rank(a), rank(b))


def reward_alignment(d_logit: jax.Array, log_p_oracle: jax.Array, log_p_gen: jax.Array) -> dict:
    """How well the discriminator ranks the generator's own samples by how oracle-like they are, from per-sequence
    scores ``[B]`` of those samples: D's logit, and the log-likelihoods of the oracle and of the generator.
    The optimal discriminator ``D* = p_oracle / (p_oracle + p_G)`` has the logit ``log p_oracle - log p_G``; a
    reward that ranks samples like it (or like ``log p_oracle``) is what lets the policy gradient lower
    NLL_oracle. Returns Spearman correlations: ``d_vs_oracle`` (D's logit vs ``log p_oracle``),
    ``d_vs_optimal`` (D's logit vs the optimal logit) and ``optimal_vs_oracle`` (the optimal logit vs
    ``log p_oracle``: the alignment a perfect discriminator would have)."""
    optimal = log_p_oracle - log_p_gen
    return {
        "d_vs_oracle": rank_correlation(d_logit, log_p_oracle),
        "d_vs_optimal": rank_correlation(d_logit, optimal),
        "optimal_vs_oracle": rank_correlation(optimal, log_p_oracle),
    }


def _predecessors(cfg: SeqGANConfig, tokens: jax.Array) -> jax.Array:
    """``[..., L]`` -> the token before each position, the start symbol ``vocab`` before the first."""
    start = jnp.full(tokens.shape[:-1] + (1,), cfg.vocab, tokens.dtype)
    return jnp.concatenate([start, tokens[..., :-1]], axis=-1)


def bigram_model(cfg: SeqGANConfig, corpus: jax.Array) -> dict:
    """The bigram discriminator's q, counted from ``corpus [N, L]``: the sorted token-pair keys
    ``prev * vocab + next`` (``prev`` = the start symbol ``vocab`` before a sequence's first token), each
    predecessor's count and number of distinct successors, and the unigram log-frequencies (pseudocount
    :data:`UNIGRAM_PSEUDOCOUNT`). O(N L) memory at any vocabulary; :func:`bigram_token_log_probs` reads it."""
    chex.assert_rank(corpus, 2)
    V = cfg.vocab
    prev = _predecessors(cfg, corpus).reshape(-1)
    pairs = jnp.sort(prev * V + corpus.reshape(-1))
    first_of_type = jnp.concatenate([jnp.ones((1,), bool), pairs[1:] != pairs[:-1]])
    unigram = jnp.bincount(corpus.reshape(-1), length=V) + UNIGRAM_PSEUDOCOUNT
    return {
        "pairs": pairs,
        "prev_count": jnp.bincount(prev, length=V + 1).astype(jnp.float32),
        "prev_types": jax.ops.segment_sum(first_of_type.astype(jnp.float32), pairs // V, num_segments=V + 1),
        "unigram_log_prob": jnp.log(unigram / unigram.sum()).astype(jnp.float32),
    }


def bigram_token_log_probs(cfg: SeqGANConfig, q: dict, tokens: jax.Array) -> jax.Array:
    """``log q(y_t | y_{t-1})`` per position, ``[..., L] -> [..., L]``, with Witten-Bell smoothing:
    ``q(w | v) = (c(v, w) + n(v) u(w)) / (c(v) + n(v))``, where ``c`` counts the corpus's pairs and tokens,
    ``n(v)`` is the number of distinct tokens seen after ``v`` and ``u`` the unigram model; a predecessor the
    corpus never shows gives ``u(w)``. Position 1 is conditioned on the start symbol."""
    V = cfg.vocab
    prev = _predecessors(cfg, tokens)
    keys = (prev * V + tokens).reshape(-1)
    pairs = q["pairs"]
    count = (jnp.searchsorted(pairs, keys, side="right") - jnp.searchsorted(pairs, keys, side="left")).reshape(tokens.shape)
    n_prev, types = q["prev_count"][prev], q["prev_types"][prev]
    u = jnp.exp(q["unigram_log_prob"][tokens])
    p = (count.astype(jnp.float32) + types * u) / jnp.maximum(n_prev + types, 1.0)
    return jnp.log(jnp.where(n_prev > 0, p, u))


def bigram_table(cfg: SeqGANConfig, q: dict) -> jax.Array:
    """The bigram model as a dense table ``log q(w | v)``, ``[vocab + 1, vocab]`` (row ``vocab``: after the start
    symbol), for sampling from products with it (:func:`sample`); ``4 vocab (vocab + 1)`` bytes (100 MB at 5,000)."""
    V = cfg.vocab
    w = jnp.arange(V, dtype=jnp.int32)

    def row(v):
        return bigram_token_log_probs(cfg, q, jnp.stack([jnp.full((V,), v, jnp.int32), w], axis=1))[:, 1]

    rows = jax.lax.map(row, jnp.arange(V, dtype=jnp.int32))
    start = bigram_token_log_probs(cfg, q, w[:, None])[:, 0]
    return jnp.concatenate([rows, start[None]], axis=0)


def sequence_log_probs(cfg: SeqGANConfig, params, tokens: jax.Array) -> jax.Array:
    """``log G(Y)`` of whole sequences under the model with ``params``: ``[..., L] -> [...]``."""
    flat = tokens.reshape(-1, tokens.shape[-1])
    return token_log_probs(cfg, params, flat).sum(-1).reshape(tokens.shape[:-1])


def disc_logits(cfg: SeqGANConfig, d_params, tokens: jax.Array, gen_params=None) -> jax.Array:
    """``[..., L] -> [...]`` logits of P(real). With ``disc="lm-ratio"`` the logit is ``log q(Y) - log G(Y)``
    (``d_params`` = q, ``gen_params`` = G, which gets no gradient from here); ``disc="optimal"`` is the same form
    with q = the oracle, ``disc="bigram"`` with q = the corpus's bigram model (:func:`bigram_model`)."""
    if cfg.disc in LIKELIHOOD_RATIO or cfg.disc == "bigram":
        if gen_params is None:
            raise ValueError(f"disc={cfg.disc!r} scores sequences against the generator: pass gen_params")
        log_g = jax.lax.stop_gradient(sequence_log_probs(cfg, gen_params, tokens))
        if cfg.disc == "bigram":
            return bigram_token_log_probs(cfg, d_params, tokens).sum(-1) - log_g
        return sequence_log_probs(cfg, d_params, tokens) - log_g
    return discriminator(cfg).apply(d_params, tokens)


def prefix_states(cfg: SeqGANConfig, params, tokens: jax.Array):
    """LSTM carries of the model with ``params`` after reading ``start, y_1, ..., y_t`` for t = 0 .. L-1:
    a pytree whose leaves are ``[L, B, H]`` (index ``t`` has read the start symbol and the first ``t`` tokens)."""
    B = tokens.shape[0]
    model = generator(cfg)
    inputs = jnp.concatenate([jnp.full((B, 1), cfg.vocab, tokens.dtype), tokens[:, :-1]], axis=1).T  # [L, B]

    def step(state, prev):
        state, _ = model.apply(params, state, prev)
        return state, state

    _, states = jax.lax.scan(step, lstm_zero_carry(cfg.hidden, (B,)), inputs)
    return states


def complete(cfg: SeqGANConfig, roll_params, tokens: jax.Array, t: int, key: chex.PRNGKey, states=None) -> jax.Array:
    """``num_rollouts`` completions of each prefix ``y_{1:t}`` (``t`` static, 1 <= t < L): the first ``t`` tokens
    kept, the other ``L - t`` sampled from the rollout policy: ``[M, B, L]``. The prefix is read once (its
    carry comes from ``states``, see :func:`prefix_states`); only the ``L - t`` new tokens are sampled."""
    B, L = tokens.shape
    M = cfg.num_rollouts
    if states is None:
        states = prefix_states(cfg, roll_params, tokens)
    model = generator(cfg)
    # the carry that has read start, y_1 .. y_{t-1}; feeding y_t gives the distribution of token t + 1
    carry = jax.tree_util.tree_map(lambda x: jnp.broadcast_to(x[t - 1], (M, *x.shape[1:])).reshape(M * B, -1), states)
    prev = jnp.tile(tokens[:, t - 1], M)

    def step(c, k):
        state, prev = c
        state, logits = model.apply(roll_params, state, prev)
        tok = sample_categorical(k, logits)
        return (state, tok), tok

    _, new = jax.lax.scan(step, (carry, prev), jax.random.split(key, L - t))  # [L-t, M*B]
    kept = jnp.broadcast_to(tokens[None, :, :t], (M, B, t))
    return jnp.concatenate([kept, new.T.reshape(M, B, L - t)], axis=-1)


def sequence_reward(cfg: SeqGANConfig, logits: jax.Array) -> jax.Array:
    """The reward of complete sequences from the discriminator's logits, as ``cfg.reward`` says."""
    if cfg.reward == "prob":
        return jax.nn.sigmoid(logits)
    return reward_from_logits(logits, {"logit": "airl", "logd": "logd"}[cfg.reward])  # GAIL's reward family


def rollout_rewards(cfg: SeqGANConfig, roll_params, d_params, tokens: jax.Array, key: chex.PRNGKey, gen_params=None) -> jax.Array:
    """``Q(y_{1:t-1}, y_t)`` for every position ``[B, L]``: the mean reward (``D`` by default, see
    :func:`sequence_reward`) over ``M`` completions of each prefix ``y_{1:t}`` (t < L) by the rollout policy, and
    the reward of the complete sequence itself (t = L). ``gen_params``: the generator inside D (lm-ratio only).
    Prefix ``t`` uses ``jax.random.split(key, L - 1)[t - 1]``."""
    chex.assert_rank(tokens, 2)
    B, L = tokens.shape
    states = prefix_states(cfg, roll_params, tokens)
    keys = jax.random.split(key, L - 1)
    completions = jnp.stack([complete(cfg, roll_params, tokens, t, keys[t - 1], states) for t in range(1, L)])  # [L-1, M, B, L]
    q = sequence_reward(cfg, disc_logits(cfg, d_params, completions, gen_params)).mean(axis=1).T  # [B, L-1]
    last = sequence_reward(cfg, disc_logits(cfg, d_params, tokens, gen_params))  # [B]
    out = jnp.concatenate([q, last[:, None]], axis=1)
    chex.assert_shape(out, (B, L))
    return out


def pg_loss(cfg: SeqGANConfig, params, tokens: jax.Array, rewards: jax.Array) -> jax.Array:
    """REINFORCE surrogate ``-mean_{b,t} Q_bt log G(y_bt | y_b,1:t-1)`` (``Q`` held constant)."""
    chex.assert_equal_shape([tokens, rewards])
    q = jax.lax.stop_gradient(rewards)
    if cfg.baseline:
        q = q - q.mean(axis=0, keepdims=True)
    return -jnp.mean(token_log_probs(cfg, params, tokens) * q)


def disc_loss(
    cfg: SeqGANConfig, d_params, real: jax.Array, fake: jax.Array, key: chex.PRNGKey | None = None, gen_params=None
) -> tuple[jax.Array, dict]:
    """Binary cross-entropy from logits (real sequences label 1, generated ones label 0) plus the L2 penalty on
    the output layer. With ``key`` the discriminator runs in training mode (dropout, if configured; the
    lm-ratio discriminator has no dropout). The bigram and optimal discriminators are not trained."""
    if cfg.disc in UNTRAINED:
        raise ValueError(f"disc={cfg.disc!r} is not trained by discriminator rounds")
    if key is None or cfg.disc in LIKELIHOOD_RATIO:
        lr, lf = disc_logits(cfg, d_params, real, gen_params), disc_logits(cfg, d_params, fake, gen_params)
    else:
        kr, kf = jax.random.split(key)
        apply = lambda x, k: discriminator(cfg).apply(d_params, x, train=True, rngs={"dropout": k})
        lr, lf = apply(real, kr), apply(fake, kf)
    bce = 0.5 * (optax.sigmoid_binary_cross_entropy(lr, 1.0).mean() + optax.sigmoid_binary_cross_entropy(lf, 0.0).mean())
    out = d_params["params"]["out" if cfg.disc in LIKELIHOOD_RATIO else SequenceCNN.OUTPUT]
    l2 = 0.5 * (jnp.sum(out["kernel"] ** 2) + jnp.sum(out["bias"] ** 2))
    return bce + cfg.d_l2 * l2, {"disc_loss": bce, "disc_acc": 0.5 * ((lr > 0).mean() + (lf < 0).mean())}


def _minibatches(key: chex.PRNGKey, data: jax.Array, batch_size: int) -> jax.Array:
    """Shuffle ``data [N, ...]`` into ``[N // batch_size, batch_size, ...]`` (the remainder is dropped)."""
    n = (data.shape[0] // batch_size) * batch_size
    idx = jax.random.permutation(key, data.shape[0])[:n]
    return data[idx].reshape(n // batch_size, batch_size, *data.shape[1:])


def mle_epoch(cfg: SeqGANConfig, gen: Learner, corpus: jax.Array, key: chex.PRNGKey) -> tuple[Learner, jax.Array]:
    """One pass of maximum likelihood (teacher forcing) over shuffled minibatches of ``corpus``; mean loss."""
    opt = mle_optimizer(cfg)

    def step(g: Learner, batch):
        loss, grads = jax.value_and_grad(lambda p: nll(cfg, p, batch))(g.params)
        updates, opt_state = opt.update(grads, g.opt_state, g.params)
        return Learner(params=optax.apply_updates(g.params, updates), opt_state=opt_state), loss

    gen, losses = jax.lax.scan(step, gen, _minibatches(key, corpus, cfg.batch_size))
    return gen, losses.mean()


def disc_epochs(
    cfg: SeqGANConfig, disc: Learner, real: jax.Array, fake: jax.Array, key: chex.PRNGKey, epochs: int, gen_params=None
) -> tuple[Learner, dict]:
    """``epochs`` passes over shuffled (real, fake) minibatch pairs; metrics of the last pass. ``gen_params``:
    the generator inside D (lm-ratio only)."""
    opt = disc_optimizer(cfg)

    def step(d: Learner, batch):
        real_b, fake_b, k = batch
        (_, metrics), grads = jax.value_and_grad(lambda p: disc_loss(cfg, p, real_b, fake_b, k, gen_params), has_aux=True)(d.params)
        updates, opt_state = opt.update(grads, d.opt_state, d.params)
        return Learner(params=optax.apply_updates(d.params, updates), opt_state=opt_state), metrics

    def epoch(d: Learner, k):
        kr, kf = jax.random.split(k)  # the minibatch keys every earlier run used; dropout keys come on the side
        kd = jax.random.fold_in(k, 2)
        reals, fakes = _minibatches(kr, real, cfg.batch_size), _minibatches(kf, fake, cfg.batch_size)
        return jax.lax.scan(step, d, (reals, fakes, jax.random.split(kd, reals.shape[0])))

    disc, metrics = jax.lax.scan(epoch, disc, jax.random.split(key, epochs))
    return disc, jax.tree_util.tree_map(lambda m: m[-1].mean(), metrics)


def generator_pg_step(cfg: SeqGANConfig, gen: Learner, roll_params, d_params, key: chex.PRNGKey) -> tuple[Learner, Any, dict]:
    """One adversarial generator update: sample a batch, estimate Q by rollouts, REINFORCE step, then move the
    rollout policy towards the generator. Returns ``(gen, roll_params, metrics)``."""
    ks, kr = jax.random.split(key)
    tokens = sample(cfg, gen.params, ks, cfg.batch_size)
    rewards = rollout_rewards(cfg, roll_params, d_params, tokens, kr, gen.params)
    loss, grads = jax.value_and_grad(lambda p: pg_loss(cfg, p, tokens, rewards))(gen.params)
    updates, opt_state = pg_optimizer(cfg).update(grads, gen.opt_state, gen.params)
    gen = Learner(params=optax.apply_updates(gen.params, updates), opt_state=opt_state)
    d = cfg.rollout_decay
    roll_params = jax.tree_util.tree_map(lambda b, p: d * b + (1.0 - d) * p, roll_params, gen.params)
    return gen, roll_params, {"pg_loss": loss, "mean_reward": rewards[:, -1].mean()}
