"""Proximal Policy Optimization (Schulman et al. 2017) with Generalized Advantage Estimation (2016).

This module holds the pure pieces; the rollout driver lives in ``jirl/loops``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import chex
import jax
import jax.numpy as jnp
import optax

from jirl.nets import GaussianActor, ValueNet, gaussian_log_prob


def compute_gae(
    rewards: jax.Array,
    values: jax.Array,
    next_values: jax.Array,
    terminated: jax.Array,
    episode_ends: jax.Array,
    gamma: float,
    gae_lambda: float,
) -> tuple[jax.Array, jax.Array]:
    r"""Generalized Advantage Estimation over a time-major rollout.

    All inputs are ``[T, N]`` (T steps of N envs) or ``[T]``. Index ``t`` is the transition
    ``(s_t, a_t, r_t, s_{t+1})``:

    * ``values[t] = V(s_t)``;
    * ``next_values[t] = V(s_{t+1})`` where ``s_{t+1}`` is the **true** next observation, i.e. the final
      observation when the episode ended at ``t`` (never the observation of the next episode's reset);
    * ``terminated[t]``: ``s_{t+1}`` is terminal, its value is zero (cuts the bootstrap);
    * ``episode_ends[t]``: the episode ended at ``t`` (terminated **or** truncated); the recursion stops.

    .. math::

        \delta_t = r_t + \gamma (1 - \mathrm{terminated}_t) V(s_{t+1}) - V(s_t)

        A_t = \delta_t + \gamma \lambda (1 - \mathrm{episode\_ends}_t) A_{t+1}, \qquad A_T = 0

    so a time-limit truncation still bootstraps from ``V(final obs)`` through :math:`\delta_t`, while the
    advantage of the next episode never leaks backwards. Returns ``(advantages, returns)`` with
    ``returns = advantages + values`` (the value-function targets), both shaped like ``rewards``.
    """
    chex.assert_rank(rewards, {1, 2})
    chex.assert_equal_shape([rewards, values, next_values, terminated, episode_ends])
    squeeze = rewards.ndim == 1
    if squeeze:
        rewards, values, next_values, terminated, episode_ends = (
            x[:, None] for x in (rewards, values, next_values, terminated, episode_ends)
        )
    terminated = terminated.astype(values.dtype)
    episode_ends = episode_ends.astype(values.dtype)
    deltas = rewards + gamma * (1.0 - terminated) * next_values - values

    def step(next_adv, xs):
        delta, end = xs
        adv = delta + gamma * gae_lambda * (1.0 - end) * next_adv
        return adv, adv

    _, advantages = jax.lax.scan(step, jnp.zeros_like(deltas[0]), (deltas, episode_ends), reverse=True)
    returns = advantages + values
    if squeeze:
        advantages, returns = advantages[:, 0], returns[:, 0]
    return advantages, returns


# ---------------------------------------------------------------------------------------------------------
# PPO: Gaussian policy with a learned state-independent log-std, clipped surrogate, (clipped) value loss.



@dataclasses.dataclass(frozen=True)
class PPOConfig:
    """PPO hyperparameters (defaults: SB3/CleanRL MuJoCo settings, the ones we benchmark)."""

    hidden: tuple[int, ...] = (64, 64)
    """Hidden sizes of the actor and of the value network (tanh activations)."""
    learning_rate: float = 3e-4
    """Adam learning rate (annealed linearly to 0 with anneal_lr)."""
    anneal_lr: bool = True
    """Anneal the learning rate linearly to 0 over the run."""
    num_steps: int = 2048
    """Env steps per env per rollout."""
    epochs: int = 10
    """Passes over each rollout."""
    minibatch_size: int = 64
    """Transitions per gradient step."""
    gamma: float = 0.99
    """Discount factor of the returns and of GAE."""
    gae_lambda: float = 0.95
    """GAE's lambda: 0 = one-step TD advantages, 1 = Monte Carlo returns minus the value."""
    clip_eps: float = 0.2
    """Clipping range of the probability ratio."""
    clip_value: bool = False
    """Clip the value loss around the old values (same range as the ratio)."""
    vf_coef: float = 0.5
    """Weight of the value loss."""
    ent_coef: float = 0.0
    """Weight of the entropy bonus."""
    max_grad_norm: float = 0.5
    """Global gradient-norm clip."""
    normalize_advantages: bool = True
    """Normalize advantages per minibatch."""
    init_log_std: float = 0.0
    """Initial log standard deviation of the Gaussian policy."""


@chex.dataclass(frozen=True)
class PPOState:
    params: Any  # {"actor": ..., "critic": ...}
    opt_state: Any
    step: jax.Array  # number of gradient steps taken


@chex.dataclass(frozen=True)
class PPOBatch:
    """Flattened rollout: leaves ``[B, ...]``."""

    obs: jax.Array
    action: jax.Array  # the unclipped Gaussian sample (what log_prob refers to)
    log_prob: jax.Array  # log-prob under the policy that collected the data
    value: jax.Array  # V(s) under the critic that collected the data
    advantage: jax.Array
    ret: jax.Array  # value target (advantage + value)


def _modules(config: PPOConfig, action_dim: int):
    return GaussianActor(config.hidden, action_dim, config.init_log_std), ValueNet(config.hidden)


def make_optimizer(config: PPOConfig, total_updates: int):
    lr = optax.linear_schedule(config.learning_rate, 0.0, max(total_updates, 1)) if config.anneal_lr else config.learning_rate
    return optax.chain(optax.clip_by_global_norm(config.max_grad_norm), optax.adam(lr, eps=1e-5))


def init(config: PPOConfig, key: chex.PRNGKey, obs_dim: int, action_dim: int, total_updates: int) -> PPOState:
    actor, critic = _modules(config, action_dim)
    ka, kc = jax.random.split(key)
    obs = jnp.zeros((1, obs_dim))
    params = {"actor": actor.init(ka, obs), "critic": critic.init(kc, obs)}
    return PPOState(params=params, opt_state=make_optimizer(config, total_updates).init(params), step=jnp.int32(0))


def _action_dim(params) -> int:
    return int(params["actor"]["params"]["log_std"].shape[0])


def policy_outputs(config: PPOConfig, params, obs: jax.Array):
    """``obs [..., obs_dim] -> (mean [..., A], log_std [..., A], value [...])``."""
    actor, critic = _modules(config, _action_dim(params))
    mean, log_std = actor.apply(params["actor"], obs)
    return mean, log_std, critic.apply(params["critic"], obs)


def sample_action(config: PPOConfig, params, obs: jax.Array, key: chex.PRNGKey):
    """Sample ``a ~ N(mean, std)`` for ``obs [N, obs_dim]``; returns ``(action, log_prob, value)``.
    The env receives ``clip(action, -1, 1)``; ``log_prob`` refers to the unclipped sample."""
    return action_from_noise(config, params, obs, jax.random.normal(key, obs.shape[:-1] + (_action_dim(params),)))


def action_from_noise(config: PPOConfig, params, obs: jax.Array, noise: jax.Array):
    """``a = mean(obs) + std * noise`` for standard-normal ``noise [..., action_dim]`` drawn beforehand (the
    bridge's acting draws a whole rollout's noise in one call); returns ``(action, log_prob, value)``."""
    mean, log_std, value = policy_outputs(config, params, obs)
    chex.assert_equal_shape([mean, noise])
    action = mean + jnp.exp(log_std) * noise
    return action, gaussian_log_prob(action, mean, log_std), value


def gaussian_entropy(log_std: jax.Array) -> jax.Array:
    """Entropy of a diagonal Gaussian, summed over the last axis: ``sum(log_std + 0.5 log(2 pi e))``."""
    return jnp.sum(log_std + 0.5 * jnp.log(2.0 * jnp.pi * jnp.e), axis=-1)


def clipped_surrogate(ratio: jax.Array, advantage: jax.Array, clip_eps: float) -> jax.Array:
    """PPO policy loss for one sample: ``-min(ratio A, clip(ratio, 1-eps, 1+eps) A)``."""
    return -jnp.minimum(ratio * advantage, jnp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * advantage)


def value_loss(value: jax.Array, old_value: jax.Array, ret: jax.Array, clip_eps: float, clip: bool) -> jax.Array:
    """``0.5 (V - R)^2``, or with ``clip`` the max with the loss of ``old_V + clip(V - old_V, -eps, eps)``."""
    unclipped = (value - ret) ** 2
    if not clip:
        return 0.5 * unclipped
    clipped = (old_value + jnp.clip(value - old_value, -clip_eps, clip_eps) - ret) ** 2
    return 0.5 * jnp.maximum(unclipped, clipped)


def loss_one(config: PPOConfig, params, obs, action, old_log_prob, old_value, advantage, ret):
    """PPO loss terms for one transition (vmapped over the minibatch)."""
    mean, log_std, value = policy_outputs(config, params, obs)
    log_prob = gaussian_log_prob(action, mean, log_std)  # same family and parameters as old_log_prob
    log_ratio = log_prob - old_log_prob
    ratio = jnp.exp(log_ratio)
    return {
        "policy_loss": clipped_surrogate(ratio, advantage, config.clip_eps),
        "value_loss": value_loss(value, old_value, ret, config.clip_eps, config.clip_value),
        "entropy": gaussian_entropy(log_std),
        "approx_kl": (ratio - 1.0) - log_ratio,
        "clip_frac": (jnp.abs(ratio - 1.0) > config.clip_eps).astype(jnp.float32),
    }


def minibatch_loss(config: PPOConfig, params, mb: PPOBatch, policy_weight: jax.Array | float = 1.0):
    """Mean PPO loss of a minibatch. ``policy_weight`` scales the policy terms (surrogate and entropy): 0 trains
    the critic alone (the actor's gradient is then exactly zero, so Adam leaves it unchanged)."""
    adv = mb.advantage
    if config.normalize_advantages:
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    terms = jax.vmap(loss_one, in_axes=(None, None, 0, 0, 0, 0, 0, 0))(
        config, params, mb.obs, mb.action, mb.log_prob, mb.value, adv, mb.ret
    )
    terms = jax.tree_util.tree_map(jnp.mean, terms)
    total = policy_weight * (terms["policy_loss"] - config.ent_coef * terms["entropy"]) + config.vf_coef * terms["value_loss"]
    return total, terms


def shuffle_indices(key: chex.PRNGKey, n: int) -> jax.Array:
    """A random order of ``0 .. n-1`` (int32 ``[n]``) for one epoch's minibatches: the indices sorted by 32-bit random
    keys, one sort. ``jax.random.permutation`` sorts three times at n = 2,048 to make ties impossible; XLA:CPU's
    sort is slow (``experiments/profile_ppo_update.py`` times both), and a tie, which only keeps two samples in
    their original order, has probability about n^2 / 2^33 (5e-4 per epoch at n = 2,048)."""
    return jnp.argsort(jax.random.bits(key, (n,), jnp.uint32)).astype(jnp.int32)


def update(
    config: PPOConfig,
    state: PPOState,
    batch: PPOBatch,
    key: chex.PRNGKey,
    total_updates: int,
    policy_weight: jax.Array | float = 1.0,
    aux_loss: Callable[[Any, chex.PRNGKey], jax.Array] | None = None,
) -> tuple[PPOState, dict]:
    """``epochs`` passes of shuffled minibatches over a flattened rollout ``batch`` (leaves ``[B, ...]``),
    all inside one ``lax.scan`` (epochs) of a ``lax.scan`` (minibatches). ``B`` must be a multiple of
    ``minibatch_size``. ``policy_weight`` as in :func:`minibatch_loss` (0: critic-only warm-up round).
    ``aux_loss(params, key) -> scalar`` is added to every minibatch's loss, with a fresh key each time (GAIL's
    behaviour-cloning term); it is scaled by ``policy_weight`` too. Returns the new state and metrics averaged
    over every gradient step."""
    n = batch.obs.shape[0]
    chex.assert_tree_shape_prefix(batch, (n,))
    if n % config.minibatch_size:
        raise ValueError(f"rollout size {n} is not a multiple of minibatch_size {config.minibatch_size}")
    num_mb = n // config.minibatch_size
    opt = make_optimizer(config, total_updates)

    def total_loss(params, mb, k):
        loss, terms = minibatch_loss(config, params, mb, policy_weight)
        if aux_loss is not None:
            extra = aux_loss(params, k)
            loss = loss + policy_weight * extra
            terms = dict(terms, aux_loss=extra)
        return loss, terms

    grad_fn = jax.value_and_grad(total_loss, has_aux=True)

    def mb_step(carry, xs):
        params, opt_state = carry
        mb, k = xs
        (loss, terms), grads = grad_fn(params, mb, k)
        updates, opt_state = opt.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        return (params, opt_state), dict(terms, loss=loss)

    def epoch(carry, k):
        k_perm, k_aux = jax.random.split(k)
        perm = shuffle_indices(k_perm, n)
        shuffled = jax.tree_util.tree_map(lambda x: x[perm].reshape((num_mb, config.minibatch_size) + x.shape[1:]), batch)
        return jax.lax.scan(mb_step, carry, (shuffled, jax.random.split(k_aux, num_mb)))

    (params, opt_state), metrics = jax.lax.scan(epoch, (state.params, state.opt_state), jax.random.split(key, config.epochs))
    new_state = PPOState(params=params, opt_state=opt_state, step=state.step + config.epochs * num_mb)
    return new_state, jax.tree_util.tree_map(jnp.mean, metrics)
