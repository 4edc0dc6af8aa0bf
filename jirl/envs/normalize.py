"""Running observation normalization kept as a pytree (so it is jit-able and saved with checkpoints)."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp


@chex.dataclass(frozen=True)
class RunningNorm:
    mean: jax.Array  # [obs_dim]
    var: jax.Array  # [obs_dim]
    count: jax.Array  # scalar float32


def norm_init(obs_dim: int) -> RunningNorm:
    return RunningNorm(mean=jnp.zeros(obs_dim), var=jnp.ones(obs_dim), count=jnp.asarray(1e-4, jnp.float32))


def norm_update(norm: RunningNorm, obs: jax.Array) -> RunningNorm:
    """Merge a batch ``obs [B, obs_dim]`` into the running mean/variance (parallel Welford / Chan et al.)."""
    chex.assert_rank(obs, 2)
    b = obs.shape[0]
    batch_mean = jnp.mean(obs, axis=0)
    batch_var = jnp.var(obs, axis=0)
    total = norm.count + b
    delta = batch_mean - norm.mean
    mean = norm.mean + delta * b / total
    m2 = norm.var * norm.count + batch_var * b + delta**2 * norm.count * b / total
    return RunningNorm(mean=mean, var=m2 / total, count=total)


def norm_apply(norm: RunningNorm | None, obs: jax.Array, clip: float = 10.0) -> jax.Array:
    """``clip((obs - mean) / sqrt(var + 1e-8))``; the identity when ``norm`` is None."""
    if norm is None:
        return obs
    return jnp.clip((obs - norm.mean) / jnp.sqrt(norm.var + 1e-8), -clip, clip)


@chex.dataclass(frozen=True)
class RewardScaler:
    """Scales rewards by the running std of the discounted return (as SB3's VecNormalize / CleanRL do).

    ``ret [N]`` is each env's running discounted return; ``norm`` tracks its variance.
    """

    ret: jax.Array
    norm: RunningNorm


def reward_scaler_init(num_envs: int) -> RewardScaler:
    return RewardScaler(ret=jnp.zeros(num_envs), norm=norm_init(1))


def reward_scaler_step(scaler: RewardScaler, reward: jax.Array, episode_end: jax.Array, gamma: float) -> tuple[RewardScaler, jax.Array]:
    """Update with one step's rewards ``[N]`` (``episode_end [N]`` resets the running return afterwards);
    returns the new scaler and the scaled rewards ``r / sqrt(var(return) + 1e-8)`` clipped to ``[-10, 10]``."""
    ret = scaler.ret * gamma + reward
    norm = norm_update(scaler.norm, ret[:, None])
    scaled = jnp.clip(reward / jnp.sqrt(norm.var[0] + 1e-8), -10.0, 10.0)
    return RewardScaler(ret=jnp.where(episode_end, 0.0, ret), norm=norm), scaled
