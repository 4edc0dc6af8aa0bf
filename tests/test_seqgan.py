"""SeqGAN: exact sampling, teacher-forced log-probs, rollout rewards (complete sequence = D's output, prefixes
kept), the oracle metric, REINFORCE direction, MLE and discriminator learning, and a tiny end-to-end run."""

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np

from jirl.algorithms import seqgan as sg
from jirl.nets import LSTMTokenModel, lstm_zero_carry

CFG = sg.SeqGANConfig(vocab=12, seq_len=6, emb=8, hidden=16, batch_size=32, num_rollouts=4, d_emb=8, d_filters=((2, 8), (3, 8)))


def test_inverse_cdf_sampling_matches_the_softmax():
    logits = jnp.array([2.0, 0.5, -1.0, 0.0, 1.0])
    draws = jax.vmap(lambda k: sg.sample_categorical(k, logits))(jax.random.split(jax.random.PRNGKey(0), 40_000))
    freq = np.bincount(np.asarray(draws), minlength=5) / draws.shape[0]
    np.testing.assert_allclose(freq, jax.nn.softmax(logits), atol=0.01)
    assert int(draws.min()) >= 0 and int(draws.max()) <= 4


def test_two_level_sampling_matches_the_softmax_for_vocabularies_that_do_not_split_evenly():
    # V = 37 is prime: blocks of 7 tokens, the last one padded with 5 zero-mass entries that must never be drawn
    logits = 2.0 * jax.random.normal(jax.random.PRNGKey(11), (2, 37))
    keys = jax.random.split(jax.random.PRNGKey(12), 60_000)
    draws = np.asarray(jax.vmap(lambda k: sg.sample_categorical(k, logits))(keys))  # [N, 2]: batch dims work
    assert draws.min() >= 0 and draws.max() <= 36
    for row in range(2):
        freq = np.bincount(draws[:, row], minlength=37) / draws.shape[0]
        np.testing.assert_allclose(freq, jax.nn.softmax(logits[row]), atol=0.006)
    # the same uniform as the one-level inversion: the same token, up to float rounding at a boundary
    wide = 3.0 * jax.random.normal(jax.random.PRNGKey(13), (4000, 1000))
    two, flat = sg.sample_categorical(keys[0], wide), sg.sample_categorical_flat(keys[0], wide)
    assert float((two == flat).mean()) > 0.995
    # a token with all the mass is always drawn, wherever it sits
    for hot in (0, 20, 36):
        peaked = jnp.full((37,), -1e4).at[hot].set(0.0)
        assert set(np.asarray(jax.vmap(sg.sample_categorical, in_axes=(0, None))(keys[:500], peaked)).tolist()) == {hot}


def test_token_log_probs_match_a_step_by_step_loop():
    params = sg.init_oracle(CFG, jax.random.PRNGKey(1))
    tokens = sg.sample(CFG, params, jax.random.PRNGKey(2), 3)
    assert tokens.shape == (3, CFG.seq_len) and tokens.dtype == jnp.int32
    got = sg.token_log_probs(CFG, params, tokens)
    got_t = sg.token_log_probs(CFG, params, tokens, temperature=0.7)
    model = LSTMTokenModel(CFG.vocab, CFG.emb, CFG.hidden)
    carry, prev = lstm_zero_carry(CFG.hidden, (3,)), jnp.full((3,), CFG.vocab, jnp.int32)
    for t in range(CFG.seq_len):
        carry, logits = model.apply(params, carry, prev)
        expected = jax.nn.log_softmax(logits)[jnp.arange(3), tokens[:, t]]
        np.testing.assert_allclose(got[:, t], expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got_t[:, t], jax.nn.log_softmax(logits / 0.7)[jnp.arange(3), tokens[:, t]], rtol=1e-5, atol=1e-6)
        prev = tokens[:, t]


def test_oracle_nll_of_its_own_samples_is_lower_than_of_uniform_samples():
    oracle = sg.init_oracle(CFG, jax.random.PRNGKey(3))
    own = sg.nll(CFG, oracle, sg.sample(CFG, oracle, jax.random.PRNGKey(4), 2000))
    uniform = sg.nll(CFG, oracle, jax.random.randint(jax.random.PRNGKey(5), (2000, CFG.seq_len), 0, CFG.vocab))
    assert float(own) < float(uniform) - 0.5, (own, uniform)


def test_rollout_reward_of_the_complete_sequence_is_the_discriminator_output_and_prefixes_are_kept():
    gen = sg.init_generator(CFG, jax.random.PRNGKey(6))
    disc = sg.init_discriminator(CFG, jax.random.PRNGKey(7))
    tokens = sg.sample(CFG, gen, jax.random.PRNGKey(8), 5)
    q = sg.rollout_rewards(CFG, gen, disc, tokens, jax.random.PRNGKey(9))
    assert q.shape == tokens.shape
    np.testing.assert_allclose(q[:, -1], jax.nn.sigmoid(sg.disc_logits(CFG, disc, tokens)), rtol=1e-6)
    assert bool(jnp.all((q > 0) & (q < 1)))
    for t in (1, 3):
        done = sg.complete(CFG, gen, tokens, t, jax.random.PRNGKey(10 + t))  # [M, B, L]
        assert done.shape == (CFG.num_rollouts, 5, CFG.seq_len)
        np.testing.assert_array_equal(done[:, :, :t], jnp.broadcast_to(tokens[:, :t], (CFG.num_rollouts, 5, t)))
        assert bool(jnp.any(done[:, :, t:] != tokens[:, t:]))  # the rest is resampled
    # the carry after reading a prefix is the teacher-forced one: completing from it = sampling step by step
    states = sg.prefix_states(CFG, gen, tokens)
    model = LSTMTokenModel(CFG.vocab, CFG.emb, CFG.hidden)
    carry, prev = lstm_zero_carry(CFG.hidden, (5,)), jnp.full((5,), CFG.vocab, jnp.int32)
    for t in range(3):
        carry, _ = model.apply(gen, carry, prev)
        np.testing.assert_allclose(states[1][t], carry[1], atol=1e-6)
        prev = tokens[:, t]
    # Q of a prefix is the mean of D over its completions, with the documented key of each prefix
    L = CFG.seq_len
    keys = jax.random.split(jax.random.PRNGKey(9), L - 1)
    for t in (1, L - 1):
        comp = sg.complete(CFG, gen, tokens, t, keys[t - 1])
        np.testing.assert_allclose(q[:, t - 1], jax.nn.sigmoid(sg.disc_logits(CFG, disc, comp)).mean(0), rtol=1e-5)


def test_logit_and_logd_rewards_average_the_transformed_discriminator_output_over_completions():
    import dataclasses

    gen = sg.init_generator(CFG, jax.random.PRNGKey(6))
    disc = sg.init_discriminator(CFG, jax.random.PRNGKey(7))
    tokens = sg.sample(CFG, gen, jax.random.PRNGKey(8), 5)
    L, key = CFG.seq_len, jax.random.PRNGKey(9)
    comp = sg.complete(CFG, gen, tokens, 2, jax.random.split(key, L - 1)[1])  # same completions for every kind
    logits_full, logits_comp = sg.disc_logits(CFG, disc, tokens), sg.disc_logits(CFG, disc, comp)
    for kind, f in (("logit", lambda x: x), ("logd", jax.nn.log_sigmoid)):
        q = sg.rollout_rewards(dataclasses.replace(CFG, reward=kind), gen, disc, tokens, key)
        np.testing.assert_allclose(q[:, -1], f(logits_full), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(q[:, 1], f(logits_comp).mean(0), rtol=1e-5, atol=1e-6)  # the mean of f(logit), not f of the mean
    assert bool(jnp.all(sg.rollout_rewards(dataclasses.replace(CFG, reward="logd"), gen, disc, tokens, key) < 0))


def test_discriminator_dropout_only_while_training_and_l2_on_the_output_layer():
    import dataclasses

    cfg = dataclasses.replace(CFG, d_dropout=0.5, d_l2=0.2)
    d = sg.init_discriminator(cfg, jax.random.PRNGKey(7))
    real = jax.random.randint(jax.random.PRNGKey(1), (16, CFG.seq_len), 0, CFG.vocab)
    fake = jax.random.randint(jax.random.PRNGKey(2), (16, CFG.seq_len), 0, CFG.vocab)
    # evaluation (rewards) is deterministic and equals the dropout-free network with the same params
    np.testing.assert_allclose(sg.disc_logits(cfg, d, real), sg.disc_logits(CFG, d, real), rtol=1e-6)
    (l1, _), (l2, _) = sg.disc_loss(cfg, d, real, fake, jax.random.PRNGKey(3)), sg.disc_loss(cfg, d, real, fake, jax.random.PRNGKey(4))
    assert abs(float(l1) - float(l2)) > 1e-4  # two dropout masks, two losses
    loss, m = sg.disc_loss(cfg, d, real, fake)
    out = d["params"]["Dense_2"]
    penalty = 0.5 * (float(jnp.sum(out["kernel"] ** 2)) + float(jnp.sum(out["bias"] ** 2)))
    assert out["kernel"].shape[-1] == 1 and penalty > 0
    np.testing.assert_allclose(float(loss), float(m["disc_loss"]) + 0.2 * penalty, rtol=1e-5)
    np.testing.assert_allclose(float(sg.disc_loss(CFG, d, real, fake)[0]), float(m["disc_loss"]), rtol=1e-6)


def test_completions_sample_the_rollout_policy_conditional_on_the_prefix():
    gen = sg.init_oracle(CFG, jax.random.PRNGKey(30), std=0.5)
    tokens = sg.sample(CFG, gen, jax.random.PRNGKey(31), 1)
    L = CFG.seq_len
    many = sg.SeqGANConfig(**{**CFG.__dict__, "num_rollouts": 8000})
    last = np.asarray(sg.complete(many, gen, tokens, L - 1, jax.random.PRNGKey(32))[:, 0, -1])
    model = LSTMTokenModel(CFG.vocab, CFG.emb, CFG.hidden)  # p(y_L | y_{1:L-1}) by an independent loop
    carry, prev = lstm_zero_carry(CFG.hidden, (1,)), jnp.full((1,), CFG.vocab, jnp.int32)
    for t in range(L):
        carry, logits = model.apply(gen, carry, prev)
        prev = tokens[:, t]
    np.testing.assert_allclose(np.bincount(last, minlength=CFG.vocab) / last.size, jax.nn.softmax(logits[0]), atol=0.015)


def test_policy_gradient_step_raises_the_likelihood_of_rewarded_sequences():
    params = sg.init_generator(CFG, jax.random.PRNGKey(12))
    tokens = sg.sample(CFG, params, jax.random.PRNGKey(13), 8)
    rewards = jnp.zeros(tokens.shape).at[0].set(1.0)  # only sequence 0 is rewarded
    grads = jax.grad(lambda p: sg.pg_loss(CFG, p, tokens, rewards))(params)
    stepped = jax.tree_util.tree_map(lambda p, g: p - 1.0 * g, params, grads)  # the loss averages over 8 x 6 tokens
    before, after = sg.token_log_probs(CFG, params, tokens).sum(1), sg.token_log_probs(CFG, stepped, tokens).sum(1)
    gain = after - before
    assert float(gain[0]) > 0.05 and float(gain[0]) > float(gain[1:].max()), gain


def test_mle_learns_the_oracle_and_the_discriminator_separates_real_from_uniform():
    oracle = sg.init_oracle(CFG, jax.random.PRNGKey(14))
    corpus = sg.sample(CFG, oracle, jax.random.PRNGKey(15), 1024)
    p = sg.init_generator(CFG, jax.random.PRNGKey(16))
    gen = sg.Learner(params=p, opt_state=sg.mle_optimizer(CFG).init(p))
    step = jax.jit(lambda g, k: sg.mle_epoch(CFG, g, corpus, k))
    first = None
    for i in range(15):
        gen, loss = step(gen, jax.random.PRNGKey(100 + i))
        first = float(loss) if first is None else first
    assert float(loss) < first - 0.3
    before = float(sg.nll(CFG, oracle, sg.sample(CFG, p, jax.random.PRNGKey(17), 1000)))
    after = float(sg.nll(CFG, oracle, sg.sample(CFG, gen.params, jax.random.PRNGKey(17), 1000)))
    assert after < before - 0.3, (before, after)  # the generator's samples became more oracle-like
    d = sg.init_discriminator(CFG, jax.random.PRNGKey(18))
    disc = sg.Learner(params=d, opt_state=sg.disc_optimizer(CFG).init(d))
    fake = jax.random.randint(jax.random.PRNGKey(19), corpus.shape, 0, CFG.vocab)
    fast = sg.SeqGANConfig(**{**CFG.__dict__, "d_lr": 3e-3})
    disc, metrics = jax.jit(lambda dd: sg.disc_epochs(fast, dd, corpus, fake, jax.random.PRNGKey(20), 10))(disc)
    real_new = sg.sample(CFG, oracle, jax.random.PRNGKey(21), 500)
    fake_new = jax.random.randint(jax.random.PRNGKey(22), real_new.shape, 0, CFG.vocab)
    acc = 0.5 * (float((sg.disc_logits(CFG, disc.params, real_new) > 0).mean()) + float((sg.disc_logits(CFG, disc.params, fake_new) < 0).mean()))
    assert acc > 0.9, acc


def test_seqgan_script_tiny_run_and_resume(tmp_path, run_script):
    args = ["--num-seeds", "2", "--num-train", "256", "--num-eval", "64"]
    args += ["--pretrain-epochs", "2", "--d-pretrain-rounds", "1", "--adv-epochs", "2", "--num-negatives", "128", "--eval-every", "1"]
    args += ["--checkpoint-every", "1", "--model.vocab", "20", "--model.seq-len", "8", "--model.num-rollouts", "2", "--run-dir", str(tmp_path)]
    args += ["--model.reward", "logit", "--model.baseline", "--model.d-dropout", "0.25", "--model.d-l2", "0.2"]  # the non-paper options, jitted + vmapped
    out = run_script("seqgan.py", *args, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    s = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(s["margin_per_seed"]) == 2 and s["epochs"] == 4
    assert s["seed_batching"] == ("map" if jax.default_backend() == "cpu" else "vmap")  # what --seed-batching auto chose
    phases = s["phase_wall_s"]  # where this process's time went (the ~30-minute budget of the default run)
    assert set(phases) == {"mle_pretraining", "disc_pretraining", "adversarial_epochs", "evaluations"}
    assert all(v > 0 for v in phases.values()) and sum(phases.values()) <= s["wall_s"]
    assert np.isclose(s["margin_nats"], s["mle_nll_oracle"] - s["seqgan_nll_oracle"], atol=1e-5)
    assert len(s["disc_logit_corpus_heldout_generated"]) == 3 and np.all(np.isfinite(s["disc_logit_corpus_heldout_generated"]))
    assert set(s["reward_rank_corr"]) == {"d_vs_oracle", "d_vs_optimal", "optimal_vs_oracle"}
    assert all(-1.0 <= v <= 1.0 for v in s["reward_rank_corr"].values())
    last = json.loads((tmp_path / "curves.jsonl").read_text().splitlines()[-1])
    assert len(last["d_logit_heldout"]) == 2 and len(last["reward_rank_corr_d_vs_optimal"]) == 2  # per seed
    for name in ("curves.jsonl", "seqgan.png", "results.json", "checkpoint.msgpack"):
        assert (tmp_path / name).is_file(), name
    again = run_script("seqgan.py", *args, timeout=900)  # same folder without --resume
    assert again.returncode == 2 and "pass --resume" in again.stderr and "Traceback" not in again.stderr
    resumed = run_script("seqgan.py", *args, "--resume", "--adv-epochs", "3", timeout=900)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert json.loads(resumed.stdout.strip().splitlines()[-1])["epochs"] == 5


def test_rank_correlation_is_spearmans_and_reward_alignment_scores_a_perfect_discriminator_one():
    a = jax.random.normal(jax.random.PRNGKey(0), (500,))
    b = a + 0.5 * jax.random.normal(jax.random.PRNGKey(1), (500,))
    ra, rb = (np.argsort(np.argsort(np.asarray(v))) for v in (a, b))
    np.testing.assert_allclose(sg.rank_correlation(a, b), np.corrcoef(ra, rb)[0, 1], rtol=1e-5)
    np.testing.assert_allclose(sg.rank_correlation(a, jnp.exp(3.0 * a)), 1.0, rtol=1e-6)  # invariant to monotone maps
    np.testing.assert_allclose(sg.rank_correlation(a, -a), -1.0, rtol=1e-6)
    # scores of a generator's samples under an oracle and the generator itself
    oracle = sg.init_oracle(CFG, jax.random.PRNGKey(2))
    gen = sg.init_generator(CFG, jax.random.PRNGKey(3))
    tokens = sg.sample(CFG, gen, jax.random.PRNGKey(4), 256)
    log_o, log_g = (sg.token_log_probs(CFG, p, tokens).sum(-1) for p in (oracle, gen))
    perfect = sg.reward_alignment(log_o - log_g, log_o, log_g)  # D outputs the optimal logit
    np.testing.assert_allclose(perfect["d_vs_optimal"], 1.0, rtol=1e-6)
    np.testing.assert_allclose(perfect["d_vs_oracle"], perfect["optimal_vs_oracle"], rtol=1e-6)
    assert float(perfect["optimal_vs_oracle"]) > 0.3  # the optimal reward prefers the more oracle-like samples
    inverted = sg.reward_alignment(log_g - log_o, log_o, log_g)  # a D that pays the least oracle-like most
    np.testing.assert_allclose(inverted["d_vs_optimal"], -1.0, rtol=1e-6)
    assert float(inverted["d_vs_oracle"]) < -0.3


def test_discriminator_positives_come_from_the_corpus_or_fresh_from_the_oracle():
    from jirl.loops import seqgan as loop

    cfg = loop.SeqGANRunConfig(num_seeds=1, num_train=64, num_eval=32, num_negatives=48, model=CFG)
    state = loop.init_seed(cfg, jax.random.PRNGKey(0))
    key = jax.random.PRNGKey(5)
    real = np.asarray(loop.real_sequences(cfg, state, key))
    corpus = {tuple(r) for r in np.asarray(state["corpus"]).tolist()}
    assert real.shape == (48, CFG.seq_len) and all(tuple(r) in corpus for r in real.tolist())
    oracle_cfg = dataclasses.replace(cfg, d_positives="oracle")
    fresh = np.asarray(loop.real_sequences(oracle_cfg, state, key))
    np.testing.assert_array_equal(fresh, sg.sample(CFG, state["oracle"], key, 48))
    assert sum(tuple(r) in corpus for r in fresh.tolist()) < 48  # new sequences, not corpus rows


def test_lm_ratio_discriminator_is_the_likelihood_ratio_starts_at_one_half_and_learns_real_from_generated():
    from jirl.loops import seqgan as loop

    cfg = dataclasses.replace(CFG, disc="lm-ratio", d_lr=3e-3)
    oracle = sg.init_oracle(cfg, jax.random.PRNGKey(40))
    gen = sg.init_generator(cfg, jax.random.PRNGKey(41))
    q = sg.init_discriminator(cfg, jax.random.PRNGKey(42))
    assert jax.tree_util.tree_structure(q) == jax.tree_util.tree_structure(gen)  # q is a generator-shaped LM
    tokens = sg.sample(cfg, gen, jax.random.PRNGKey(43), 7)
    want = sg.token_log_probs(cfg, q, tokens).sum(-1) - sg.token_log_probs(cfg, gen, tokens).sum(-1)  # AIRL's f - log pi, f = log q
    np.testing.assert_allclose(sg.disc_logits(cfg, q, tokens, gen), want, rtol=1e-5, atol=1e-4)
    many = jnp.stack([tokens, tokens[::-1]])  # leading dims are kept, like the rollouts' [L-1, M, B, L]
    np.testing.assert_allclose(sg.disc_logits(cfg, q, many, gen)[1], want[::-1], rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(sg.disc_logits(cfg, gen, tokens, gen), 0.0, atol=1e-5)  # q = G: D = 1/2 everywhere
    with np.testing.assert_raises(ValueError):
        sg.disc_logits(cfg, q, tokens)
    # the loop starts q as the pre-trained generator, with a fresh optimizer
    run_cfg = loop.SeqGANRunConfig(num_seeds=1, num_train=512, num_eval=32, num_negatives=512, model=cfg)
    state = loop.disc_from_generator(run_cfg, loop.init_seed(run_cfg, jax.random.PRNGKey(44)))
    chex_equal = jax.tree_util.tree_map(lambda a, b: bool(jnp.all(a == b)), state["disc"].params, state["mle"].params)
    assert all(jax.tree_util.tree_leaves(chex_equal))
    # the discriminator gradient moves q only (G is held fixed inside D), and training separates oracle from G samples
    real = sg.sample(cfg, oracle, jax.random.PRNGKey(45), 512)
    fake = sg.sample(cfg, gen, jax.random.PRNGKey(46), 512)
    g_grad = jax.grad(lambda g: sg.disc_loss(cfg, gen, real[:32], fake[:32], gen_params=g)[0])(gen)
    assert all(float(jnp.abs(x).max()) == 0.0 for x in jax.tree_util.tree_leaves(g_grad))
    disc = sg.Learner(params=gen, opt_state=sg.disc_optimizer(cfg).init(gen))
    disc, _ = jax.jit(lambda d: sg.disc_epochs(cfg, d, real, fake, jax.random.PRNGKey(47), 10, gen))(disc)
    real_new, fake_new = sg.sample(cfg, oracle, jax.random.PRNGKey(48), 500), sg.sample(cfg, gen, jax.random.PRNGKey(49), 500)
    acc = 0.5 * (float((sg.disc_logits(cfg, disc.params, real_new, gen) > 0).mean()) + float((sg.disc_logits(cfg, disc.params, fake_new, gen) < 0).mean()))
    assert acc > 0.8, acc  # chance is 0.5
    # and its logit ranks G's samples like the optimal one (log p_oracle - log p_G)
    log_o, log_g = (sg.token_log_probs(cfg, p, fake_new).sum(-1) for p in (oracle, gen))
    assert float(sg.rank_correlation(sg.disc_logits(cfg, disc.params, fake_new, gen), log_o - log_g)) > 0.5, 'rank correlation with the optimal logit'


def test_lm_ratio_discriminator_rejects_the_cnn_only_dropout():
    import pytest

    from jirl.loops import seqgan as loop
    from jirl.loops.common import UserError

    bad = loop.SeqGANRunConfig(model=dataclasses.replace(sg.SeqGANConfig(), disc="lm-ratio", d_dropout=0.25))
    with pytest.raises(UserError, match="cnn discriminator only"):
        loop.check_config(bad)
    loop.check_config(loop.SeqGANRunConfig(model=dataclasses.replace(sg.SeqGANConfig(), disc="lm-ratio", d_l2=0.2)))  # L2 on q's output layer is fine


def test_optimal_discriminator_is_the_oracle_ratio_never_trained_and_its_reward_lowers_nll_oracle():
    """The diagnostic --model.disc optimal: D's logit is exactly log p_oracle - log G, nothing trains it, and the
    policy gradient on it moves the generator towards the oracle (NLL_oracle of its samples goes down)."""
    from jirl.loops import seqgan as loop

    cfg = dataclasses.replace(CFG, disc="optimal", reward="logit", baseline=True, pg_lr=3e-2)
    run_cfg = loop.SeqGANRunConfig(num_seeds=1, num_train=512, num_eval=256, num_negatives=512, g_steps=8, model=cfg)
    state = loop.split_branches(run_cfg, loop.disc_from_generator(run_cfg, loop.init_seed(run_cfg, jax.random.PRNGKey(60))))
    same = jax.tree_util.tree_map(lambda a, b: bool(jnp.all(a == b)), state["disc"].params, state["oracle"])
    assert all(jax.tree_util.tree_leaves(same))
    tokens = sg.sample(cfg, state["adv"].params, jax.random.PRNGKey(61), 9)
    want = sg.sequence_log_probs(cfg, state["oracle"], tokens) - sg.sequence_log_probs(cfg, state["adv"].params, tokens)
    np.testing.assert_allclose(sg.disc_logits(cfg, state["disc"].params, tokens, state["adv"].params), want, rtol=1e-5, atol=1e-4)
    assert not loop.trains_disc(run_cfg) and loop.trains_disc(dataclasses.replace(run_cfg, model=dataclasses.replace(cfg, disc="lm-ratio")))

    def nll_oracle(s, k):
        return float(sg.nll(cfg, s["oracle"], sg.sample(cfg, s["adv"].params, k, 4000)))

    before = nll_oracle(state, jax.random.PRNGKey(62))
    epoch = jax.jit(lambda s, k: loop.adversarial_epoch(run_cfg, s, k))
    for i in range(3):
        state, metrics = epoch(state, jax.random.PRNGKey(63 + i))
    assert "disc_loss" not in metrics and "pg_loss" in metrics  # no discriminator round ran
    same = jax.tree_util.tree_map(lambda a, b: bool(jnp.all(a == b)), state["disc"].params, state["oracle"])
    assert all(jax.tree_util.tree_leaves(same))
    after = nll_oracle(state, jax.random.PRNGKey(62))
    assert after < before - 0.05, (before, after)


def test_zero_generator_or_discriminator_steps_leave_that_player_unchanged():
    from jirl.loops import seqgan as loop

    run_cfg = loop.SeqGANRunConfig(num_seeds=1, num_train=256, num_eval=32, num_negatives=256, g_steps=0, d_rounds=0, model=CFG)
    state = loop.split_branches(run_cfg, loop.init_seed(run_cfg, jax.random.PRNGKey(70)))
    new, metrics = jax.jit(lambda s, k: loop.adversarial_epoch(run_cfg, s, k))(state, jax.random.PRNGKey(71))
    for name in ("adv", "disc"):
        same = jax.tree_util.tree_map(lambda a, b: bool(jnp.all(a == b)), new[name].params, state[name].params)
        assert all(jax.tree_util.tree_leaves(same)), name
    assert set(metrics) == {"mle_loss"}


def test_seeds_mapped_or_vmapped_give_the_same_run_and_each_seed_matches_a_single_seed_run():
    from jirl.loops import seqgan as loop

    base = loop.SeqGANRunConfig(num_seeds=2, seed=3, num_train=128, num_eval=32, num_negatives=64, d_rounds=1, d_epochs=1, model=CFG)

    def two_phases(cfg):
        fn = lambda f: jax.jit(loop.per_seed(cfg, f))
        state = fn(loop.init_seed)(loop.seed_keys(cfg, 0, 0))
        state, _ = fn(loop.pretrain_epoch)(state, loop.seed_keys(cfg, 3, 0))
        state = fn(loop.split_branches)(state)
        state, metrics = fn(loop.adversarial_epoch)(state, loop.seed_keys(cfg, 4, 1))
        return state, metrics

    runs = {how: two_phases(dataclasses.replace(base, seed_batching=how)) for how in ("map", "vmap")}
    # the corpus is sampled identically; the trained parameters agree to float rounding
    np.testing.assert_array_equal(runs["vmap"][0]["corpus"], runs["map"][0]["corpus"])
    close = jax.tree_util.tree_map(lambda a, b: np.allclose(a, b, atol=1e-4), runs["vmap"][0]["adv"].params, runs["map"][0]["adv"].params)
    assert all(jax.tree_util.tree_leaves(close))
    single, _ = two_phases(dataclasses.replace(base, num_seeds=1, seed=4, seed_batching="map"))  # = the second seed
    got = jax.tree_util.tree_map(lambda a, b: np.allclose(a[1], b[0], atol=1e-4), runs["map"][0]["disc"].params, single["disc"].params)
    assert all(jax.tree_util.tree_leaves(got))
    assert not np.allclose(runs["map"][0]["corpus"][0], runs["map"][0]["corpus"][1])  # the seeds differ


def test_seqgan_speed_script_times_every_piece_for_both_seed_batchings(run_script):
    args = ["--num-seeds", "2", "--repeats", "1", "--num-negatives", "64", "--d-epochs", "1", "--model.vocab", "12", "--model.seq-len", "6"]
    args += ["--model.num-rollouts", "2", "--model.emb", "8", "--model.hidden", "8", "--model.d-emb", "8", "--model.batch-size", "32"]
    out = run_script("seqgan_speed.py", *args, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    s = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(s["seconds"]) == {"vmap", "map"} and s["num_seeds"] == 2
    assert set(s["sampler_ms"]) == {"two_level", "one_level"} and min(s["sampler_ms"].values()) > 0
    for r in s["seconds"].values():
        assert all(v > 0 for v in r.values())
        assert np.isclose(r["adversarial_epoch_estimate"], r["mle_epoch"] + 3 * r["generator_step"] + 3 * r["disc_round"], atol=0.02)
    bad = run_script("seqgan_speed.py", "--num-seeds", "0", timeout=120)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def _witten_bell_reference(corpus: np.ndarray, vocab: int, tokens: np.ndarray) -> np.ndarray:
    """log q(y_t | y_{t-1}) of ``tokens`` by plain counting (NumPy, float64), the start symbol = ``vocab``."""
    prev_of = lambda x: np.concatenate([np.full((x.shape[0], 1), vocab), x[:, :-1]], axis=1)
    pairs = np.zeros((vocab + 1, vocab))
    np.add.at(pairs, (prev_of(corpus).ravel(), corpus.ravel()), 1.0)
    u = np.bincount(corpus.ravel(), minlength=vocab) + sg.UNIGRAM_PSEUDOCOUNT
    u = u / u.sum()
    out = np.empty(tokens.shape)
    for (i, t), (v, w) in zip(np.ndindex(tokens.shape), zip(prev_of(tokens).ravel(), tokens.ravel(), strict=True), strict=True):
        c, n = pairs[v].sum(), (pairs[v] > 0).sum()
        out[i, t] = np.log((pairs[v, w] + n * u[w]) / (c + n) if c > 0 else u[w])
    return out


def test_bigram_discriminator_is_the_corpus_bigram_model_over_the_generator_and_normalizes():
    """--model.disc bigram: q is counted from the corpus with Witten-Bell smoothing (checked against plain NumPy
    counting, unseen pairs, tokens and predecessors included), every q(. | v) sums to one, and D's logit is
    log q(Y) - log G(Y). It is never trained."""
    import pytest

    cfg = dataclasses.replace(CFG, disc="bigram")
    V = cfg.vocab
    corpus = jax.random.randint(jax.random.PRNGKey(80), (30, cfg.seq_len), 0, 6)  # tokens 6 .. 11 never appear
    corpus = corpus.at[:, 0].set(jnp.where(corpus[:, 0] == 3, 4, corpus[:, 0]))  # 3 never starts a sequence
    q = sg.init_discriminator(cfg, jax.random.PRNGKey(0), corpus)
    probe = np.asarray(jax.random.randint(jax.random.PRNGKey(81), (20, cfg.seq_len), 0, V))
    got = np.asarray(sg.bigram_token_log_probs(cfg, q, jnp.asarray(probe)))
    np.testing.assert_allclose(got, _witten_bell_reference(np.asarray(corpus), V, probe), rtol=1e-5, atol=1e-5)
    # q(w | v) over all w sums to one for every predecessor: seen ones, unseen ones (6 .. 11) and the start symbol
    every_w = jnp.arange(V)
    for v in range(V):
        pairs = jnp.stack([jnp.full((V,), v), every_w], axis=1)
        assert abs(float(jnp.exp(sg.bigram_token_log_probs(cfg, q, pairs)[:, 1]).sum()) - 1.0) < 1e-5, v
    assert abs(float(jnp.exp(sg.bigram_token_log_probs(cfg, q, every_w[:, None])[:, 0]).sum()) - 1.0) < 1e-5
    gen = sg.init_generator(cfg, jax.random.PRNGKey(82))
    tokens = sg.sample(cfg, gen, jax.random.PRNGKey(83), 9)
    want = sg.bigram_token_log_probs(cfg, q, tokens).sum(-1) - sg.sequence_log_probs(cfg, gen, tokens)
    np.testing.assert_allclose(sg.disc_logits(cfg, q, tokens, gen), want, rtol=1e-5, atol=1e-4)
    with pytest.raises(ValueError, match="not trained"):
        sg.disc_loss(cfg, q, tokens, tokens, gen_params=gen)
    with pytest.raises(ValueError, match="pass corpus"):
        sg.init_discriminator(cfg, jax.random.PRNGKey(0))


def test_bigram_discriminator_in_the_loop_is_counted_once_and_its_reward_moves_the_generator_to_corpus_pairs():
    """In a SeqGAN run the bigram q is counted from the seed's corpus, no discriminator round touches it, and the
    policy gradient raises log q of the generator's samples (the expected reward is -KL(G || q))."""
    import pytest

    from jirl.loops import seqgan as loop
    from jirl.loops.common import UserError

    cfg = dataclasses.replace(CFG, disc="bigram", reward="logit", baseline=True, pg_lr=3e-2)
    run_cfg = loop.SeqGANRunConfig(num_seeds=1, num_train=512, num_eval=256, num_negatives=512, g_steps=8, model=cfg)
    loop.check_config(run_cfg)
    assert not loop.trains_disc(run_cfg)
    state = loop.split_branches(run_cfg, loop.disc_from_generator(run_cfg, loop.init_seed(run_cfg, jax.random.PRNGKey(90))))
    counted = sg.bigram_model(cfg, state["corpus"])
    same = lambda a, b: all(jax.tree_util.tree_leaves(jax.tree_util.tree_map(lambda x, y: bool(jnp.all(x == y)), a, b)))
    assert same(state["disc"].params, counted)

    def log_q_per_token(s, k):
        return float(sg.bigram_token_log_probs(cfg, s["disc"].params, sg.sample(cfg, s["adv"].params, k, 4000)).mean())

    before = log_q_per_token(state, jax.random.PRNGKey(91))
    epoch = jax.jit(lambda s, k: loop.adversarial_epoch(run_cfg, s, k))
    for i in range(3):
        state, metrics = epoch(state, jax.random.PRNGKey(92 + i))
    assert "disc_loss" not in metrics and "pg_loss" in metrics
    assert same(state["disc"].params, counted)
    after = log_q_per_token(state, jax.random.PRNGKey(91))
    assert after > before + 0.05, (before, after)
    ev = jax.jit(lambda s, k: loop.evaluate_seed(run_cfg, s, k))(state, jax.random.PRNGKey(96))
    assert np.isfinite(float(ev["d_logit_corpus"])) and float(ev["d_logit_corpus"]) > float(ev["d_logit_generated"])
    sweep = jax.jit(lambda s, k: loop.temperature_sweep(run_cfg, s, k))(state, jax.random.PRNGKey(97))
    assert sweep["product_nll_oracle"].shape == sweep["product_nll_test"].shape == (len(run_cfg.bigram_products),)
    assert np.all(np.isfinite(np.asarray(sweep["product_nll_test"])))
    for bad, message in (
        (dataclasses.replace(run_cfg, d_positives="oracle"), "counted from the training corpus"),
        (dataclasses.replace(run_cfg, model=dataclasses.replace(cfg, d_dropout=0.25)), "cnn discriminator only"),
        (dataclasses.replace(run_cfg, model=dataclasses.replace(cfg, d_l2=0.2)), "drop --model.d-l2"),
        (dataclasses.replace(run_cfg, model=dataclasses.replace(cfg, vocab=50_000)), "up to 46,340"),
        (dataclasses.replace(run_cfg, bigram_products=(0.5, 1.5)), "weights in"),
    ):
        with pytest.raises(UserError, match=message):
            loop.check_config(bad)


def test_product_with_the_bigram_model_interpolates_between_the_generator_and_q():
    """Sampling and scoring with ``product=(bigram_table, w)``: w = 0 is the generator itself, w = 1 the bigram
    model; the dense table's rows are the bigram model's next-token log-probabilities."""
    cfg = dataclasses.replace(CFG, disc="bigram")
    corpus = sg.sample(cfg, sg.init_oracle(cfg, jax.random.PRNGKey(100)), jax.random.PRNGKey(101), 200)
    q = sg.bigram_model(cfg, corpus)
    table = sg.bigram_table(cfg, q)
    assert table.shape == (cfg.vocab + 1, cfg.vocab)
    np.testing.assert_allclose(jnp.exp(table).sum(-1), 1.0, atol=1e-5)
    gen = sg.init_generator(cfg, jax.random.PRNGKey(102))
    tokens = sg.sample(cfg, gen, jax.random.PRNGKey(103), 16)
    np.testing.assert_allclose(sg.token_log_probs(cfg, gen, tokens, product=(table, 0.0)), sg.token_log_probs(cfg, gen, tokens), atol=1e-5)
    np.testing.assert_allclose(sg.token_log_probs(cfg, gen, tokens, product=(table, 1.0)), sg.bigram_token_log_probs(cfg, q, tokens), atol=1e-5)
    half = sg.token_log_probs(cfg, gen, tokens, product=(table, 0.5))
    assert not np.allclose(half, sg.token_log_probs(cfg, gen, tokens), atol=1e-3)
    # samples of the w = 1 product follow q: its log-likelihood of them beats the generator's own samples'
    own = sg.bigram_token_log_probs(cfg, q, sg.sample(cfg, gen, jax.random.PRNGKey(104), 2000)).mean()
    prod = sg.bigram_token_log_probs(cfg, q, sg.sample(cfg, gen, jax.random.PRNGKey(104), 2000, product=(table, 1.0))).mean()
    assert float(prod) > float(own) + 0.1, (float(own), float(prod))
