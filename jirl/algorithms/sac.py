"""Soft Actor-Critic (Haarnoja et al. 2018) as pure functions of pytrees.

* twin critics as one vmapped :class:`~jirl.nets.QEnsemble`, Polyak-averaged targets;
* tanh-squashed Gaussian actor with the exact log-density (``log(1 - tanh(u)^2)`` correction);
* learned temperature ``alpha`` with target entropy ``-action_dim`` by default;
* time-limit bootstrapping: only ``terminated`` cuts the bootstrap, truncated transitions store the true
  final observation as ``next_obs`` and bootstrap from it;
* per-sample losses written for one transition and ``vmap``-ed over the minibatch;
* ``update(state, batch, key) -> (state, metrics)`` and ``update_many`` fusing K updates in ``lax.scan``.

Everything is deterministic given the PRNG key.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import chex
import jax
import jax.numpy as jnp
import optax

from jirl.buffers import ReplayBuffer, Transition, buffer_sample
from jirl.envs.normalize import RunningNorm, norm_apply
from jirl.nets import QEnsemble, TanhGaussianActor, sample_tanh_gaussian, tanh_gaussian_log_prob


@dataclasses.dataclass(frozen=True)
class SACConfig:
    """SAC hyperparameters. Defaults are the values we benchmark and train the shipped expert with."""

    hidden: tuple[int, ...] = (256, 256)
    """Hidden layer sizes of the actor and of each critic."""
    num_qs: int = 2
    """Number of critics in the ensemble (the min over them is the target)."""
    actor_lr: float = 3e-4
    """Adam learning rate of the actor."""
    critic_lr: float = 3e-4
    """Adam learning rate of the critics."""
    alpha_lr: float = 3e-4
    """Adam learning rate of the log-temperature."""
    gamma: float = 0.99
    """Discount factor."""
    tau: float = 0.005
    """Polyak coefficient of the target critics."""
    batch_size: int = 256
    """Minibatch size of each update."""
    init_alpha: float = 1.0
    """Initial entropy temperature."""
    target_entropy: float | None = None
    """Target entropy of the learned temperature; None means -action_dim."""
    backup_entropy: bool = True
    """Subtract alpha * log pi(a'|s') in the critic target (soft Bellman backup)."""


@chex.dataclass(frozen=True)
class SACState:
    actor_params: Any
    critic_params: Any
    target_critic_params: Any
    log_alpha: jax.Array
    actor_opt: Any
    critic_opt: Any
    alpha_opt: Any
    step: jax.Array


def _nets(config: SACConfig, action_dim: int):
    return TanhGaussianActor(config.hidden, action_dim), QEnsemble(config.hidden, config.num_qs)


def _optimizers(config: SACConfig):
    return optax.adam(config.actor_lr), optax.adam(config.critic_lr), optax.adam(config.alpha_lr)


def init(config: SACConfig, key: chex.PRNGKey, obs_dim: int, action_dim: int) -> SACState:
    """Fresh SAC state for ``obs_dim``-dimensional observations and ``action_dim``-dimensional actions."""
    actor, critic = _nets(config, action_dim)
    ka, kc = jax.random.split(key)
    obs, act = jnp.zeros((1, obs_dim)), jnp.zeros((1, action_dim))
    actor_params = actor.init(ka, obs)
    critic_params = critic.init(kc, obs, act)
    log_alpha = jnp.log(jnp.asarray(config.init_alpha, jnp.float32))
    a_opt, c_opt, t_opt = _optimizers(config)
    return SACState(
        actor_params=actor_params,
        critic_params=critic_params,
        target_critic_params=jax.tree_util.tree_map(jnp.copy, critic_params),  # distinct buffers (donation)
        log_alpha=log_alpha,
        actor_opt=a_opt.init(actor_params),
        critic_opt=c_opt.init(critic_params),
        alpha_opt=t_opt.init(log_alpha),
        step=jnp.int32(0),
    )


def target_entropy_of(config: SACConfig, action_dim: int) -> float:
    return -float(action_dim) if config.target_entropy is None else float(config.target_entropy)


# ---------------------------------------------------------------------------------------------------------
# Acting


def act(config: SACConfig, actor_params: Any, obs: jax.Array, key: chex.PRNGKey, deterministic: bool) -> jax.Array:
    """Actions in ``[-1, 1]`` for observations ``[N, obs_dim] -> [N, action_dim]``."""
    chex.assert_rank(obs, 2)
    actor = TanhGaussianActor(config.hidden, _action_dim_from_params(actor_params))
    mean, log_std = actor.apply(actor_params, obs)
    if deterministic:
        return jnp.tanh(mean)
    action, _ = sample_tanh_gaussian(key, mean, log_std)
    return action


def log_prob(config: SACConfig, actor_params: Any, obs: jax.Array, action: jax.Array) -> jax.Array:
    """``log pi(a | s)`` of given actions in ``[-1, 1]``: ``obs [N, obs_dim], action [N, A] -> [N]`` (AIRL's
    discriminator needs it for expert and replayed actions alike)."""
    chex.assert_rank([obs, action], 2)
    actor = TanhGaussianActor(config.hidden, _action_dim_from_params(actor_params))
    mean, log_std = actor.apply(actor_params, obs)
    return tanh_gaussian_log_prob(action, mean, log_std)


def _action_dim_from_params(actor_params: Any) -> int:
    return int(jax.tree_util.tree_leaves(actor_params)[-1].shape[-1]) // 2


# ---------------------------------------------------------------------------------------------------------
# Losses (one transition each; vmapped over the minibatch)


def critic_target(
    config: SACConfig,
    actor_params: Any,
    target_critic_params: Any,
    alpha: jax.Array,
    reward: jax.Array,
    next_obs: jax.Array,
    terminated: jax.Array,
    key: chex.PRNGKey,
) -> jax.Array:
    """Soft Bellman target for one transition:
    ``y = r + gamma (1 - terminated) (min_i Q'_i(s', a') - alpha log pi(a'|s'))``, ``a' ~ pi(.|s')``."""
    actor, critic = _nets(config, _action_dim_from_params(actor_params))
    mean, log_std = actor.apply(actor_params, next_obs)
    next_action, next_log_prob = sample_tanh_gaussian(key, mean, log_std)
    next_q = jnp.min(critic.apply(target_critic_params, next_obs, next_action), axis=0)
    if config.backup_entropy:
        next_q = next_q - alpha * next_log_prob
    return reward + config.gamma * (1.0 - terminated) * next_q


def critic_loss_one(config: SACConfig, critic_params: Any, obs, action, target) -> jax.Array:
    """Sum over the ensemble of squared TD errors for one transition."""
    critic = QEnsemble(config.hidden, config.num_qs)
    q = critic.apply(critic_params, obs, action)  # [num_qs]
    return jnp.sum((q - target) ** 2), q


def actor_loss_one(config: SACConfig, actor_params, critic_params, alpha, obs, key):
    """``alpha log pi(a|s) - min_i Q_i(s, a)`` with ``a ~ pi(.|s)`` reparameterized, for one state."""
    actor, critic = _nets(config, _action_dim_from_params(actor_params))
    mean, log_std = actor.apply(actor_params, obs)
    action, log_prob = sample_tanh_gaussian(key, mean, log_std)
    q = jnp.min(critic.apply(critic_params, obs, action), axis=0)
    return alpha * log_prob - q, log_prob


def alpha_loss(log_alpha: jax.Array, log_probs: jax.Array, target_entropy: float) -> jax.Array:
    """Temperature loss ``-alpha * (log pi + target_entropy)`` averaged over the batch."""
    return -jnp.exp(log_alpha) * jnp.mean(jax.lax.stop_gradient(log_probs) + target_entropy)


# ---------------------------------------------------------------------------------------------------------
# Update


def update(config: SACConfig, state: SACState, batch: Transition, key: chex.PRNGKey) -> tuple[SACState, dict]:
    """One SAC update on a minibatch ``batch`` (leaves ``[B, ...]``): critics, targets, actor, temperature."""
    chex.assert_rank([batch.obs, batch.action, batch.reward, batch.next_obs, batch.terminated], [2, 2, 1, 2, 1])
    bsz = batch.obs.shape[0]
    chex.assert_shape([batch.reward, batch.terminated], (bsz,))
    action_dim = batch.action.shape[-1]
    a_opt, c_opt, t_opt = _optimizers(config)
    k_target, k_actor = jax.random.split(key)
    alpha = jnp.exp(state.log_alpha)

    # Critics.
    targets = jax.vmap(critic_target, in_axes=(None, None, None, None, 0, 0, 0, 0))(
        config,
        state.actor_params,
        state.target_critic_params,
        alpha,
        batch.reward,
        batch.next_obs,
        batch.terminated,
        jax.random.split(k_target, bsz),
    )
    targets = jax.lax.stop_gradient(targets)

    def critic_objective(params):
        losses, qs = jax.vmap(critic_loss_one, in_axes=(None, None, 0, 0, 0))(
            config, params, batch.obs, batch.action, targets
        )
        return jnp.mean(losses), qs

    (c_loss, qs), c_grads = jax.value_and_grad(critic_objective, has_aux=True)(state.critic_params)
    c_updates, critic_opt = c_opt.update(c_grads, state.critic_opt, state.critic_params)
    critic_params = optax.apply_updates(state.critic_params, c_updates)
    target_critic_params = optax.incremental_update(critic_params, state.target_critic_params, config.tau)

    # Actor (against the freshly updated critics).
    def actor_objective(params):
        losses, log_probs = jax.vmap(actor_loss_one, in_axes=(None, None, None, None, 0, 0))(
            config, params, critic_params, alpha, batch.obs, jax.random.split(k_actor, bsz)
        )
        return jnp.mean(losses), log_probs

    (a_loss, log_probs), a_grads = jax.value_and_grad(actor_objective, has_aux=True)(state.actor_params)
    a_updates, actor_opt = a_opt.update(a_grads, state.actor_opt, state.actor_params)
    actor_params = optax.apply_updates(state.actor_params, a_updates)

    # Temperature.
    target_entropy = target_entropy_of(config, action_dim)
    t_loss, t_grad = jax.value_and_grad(alpha_loss)(state.log_alpha, log_probs, target_entropy)
    t_updates, alpha_opt = t_opt.update(t_grad, state.alpha_opt, state.log_alpha)
    log_alpha = optax.apply_updates(state.log_alpha, t_updates)

    new_state = SACState(
        actor_params=actor_params,
        critic_params=critic_params,
        target_critic_params=target_critic_params,
        log_alpha=log_alpha,
        actor_opt=actor_opt,
        critic_opt=critic_opt,
        alpha_opt=alpha_opt,
        step=state.step + 1,
    )
    metrics = {
        "critic_loss": c_loss,
        "actor_loss": a_loss,
        "alpha_loss": t_loss,
        "alpha": alpha,
        "entropy": -jnp.mean(log_probs),
        "q_mean": jnp.mean(qs),
    }
    return new_state, metrics


def update_from_buffer(
    config: SACConfig,
    state: SACState,
    buffer: ReplayBuffer,
    key: chex.PRNGKey,
    num_updates: int,
    norm: RunningNorm | None = None,
    reward_fn=None,
) -> tuple[SACState, dict]:
    """``num_updates`` SAC updates on fresh uniform minibatches, fused in one ``lax.scan``.

    All ``num_updates`` minibatches are gathered before the scan and the scan runs over them: a buffer read
    inside a scan body becomes a loop operand, and XLA then copies the whole (170 MB) buffer every call.
    The buffer stores raw observations; ``norm`` (if given) normalizes ``obs`` and ``next_obs`` of each batch.
    ``reward_fn(batches) -> [num_updates, B]`` (if given) replaces the stored rewards, e.g. by a discriminator's
    (off-policy GAIL); it sees the raw observations. Returns the final state and the metrics averaged over the updates.
    """
    k_sample, k_update = jax.random.split(key)
    flat = buffer_sample(buffer, k_sample, num_updates * config.batch_size)
    batches = jax.tree_util.tree_map(lambda x: x.reshape((num_updates, config.batch_size) + x.shape[1:]), flat)
    if reward_fn is not None:
        batches = batches.replace(reward=reward_fn(batches))
    if norm is not None:
        batches = batches.replace(obs=norm_apply(norm, batches.obs), next_obs=norm_apply(norm, batches.next_obs))

    def body(s, xs):
        batch, k = xs
        return update(config, s, batch, k)

    state, metrics = jax.lax.scan(body, state, (batches, jax.random.split(k_update, num_updates)))
    return state, jax.tree_util.tree_map(jnp.mean, metrics)
