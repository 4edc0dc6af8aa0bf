"""Proximal Policy Optimization (Schulman et al. 2017) with Generalized Advantage Estimation (2016).

This module holds the pure pieces; the rollout driver lives in ``jirl/loops``.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp


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
