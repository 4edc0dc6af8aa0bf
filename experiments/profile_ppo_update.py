"""Where a PPO round's update time goes on the CPU: the jitted ``ppo.update`` of one 2,048-step rollout (64x64
tanh nets, 10 epochs of minibatches of 64: the peer-benchmark setting) and the per-epoch shuffles it needs.

    python experiments/profile_ppo_update.py

Prints, as its last line, JSON with update_ms (one ``ppo.update`` call on a fixed random rollout, epochs and
minibatch steps included), shuffle_ms (the epochs' ``jirl.algorithms.ppo.shuffle_indices``, one jitted call
for all epochs) and permutation_ms (the same with ``jax.random.permutation``, what the update used before
2026-12-08), each the best of --repeats timings of --calls calls.
"""

from __future__ import annotations

import dataclasses
import time

from jirl.cli import run
from jirl.loops.common import UserError, machine_description


@dataclasses.dataclass(frozen=True)
class ProfileConfig:
    rollout: int = 2048
    """Samples per rollout (the batch ppo.update shuffles into minibatches)."""
    minibatch_size: int = 64
    """PPO minibatch size."""
    epochs: int = 10
    """PPO epochs per rollout."""
    hidden: tuple[int, ...] = (64, 64)
    """Hidden sizes of the actor and critic."""
    calls: int = 20
    """Calls per timing."""
    repeats: int = 5
    """Timings per figure (the best is reported)."""


def _best_ms(fn, calls: int, repeats: int) -> float:
    import jax

    jax.block_until_ready(fn(0))
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for i in range(calls):
            out = fn(i)
        jax.block_until_ready(out)
        best = min(best, (time.perf_counter() - t0) / calls)
    return 1e3 * best


def profile(cfg: ProfileConfig) -> dict:
    if min(cfg.rollout, cfg.minibatch_size, cfg.epochs, cfg.calls, cfg.repeats) < 1 or cfg.rollout % cfg.minibatch_size:
        raise UserError("--rollout, --minibatch-size, --epochs, --calls and --repeats must be >= 1, and --rollout a multiple of --minibatch-size")
    import jax
    import jax.numpy as jnp

    from jirl.algorithms import ppo

    pcfg = ppo.PPOConfig(hidden=cfg.hidden, epochs=cfg.epochs, minibatch_size=cfg.minibatch_size)
    n, D, A = cfg.rollout, 17, 6
    state = ppo.init(pcfg, jax.random.PRNGKey(0), D, A, 1000)
    k = jax.random.split(jax.random.PRNGKey(1), 3)
    batch = ppo.PPOBatch(
        obs=jax.random.normal(k[0], (n, D)), action=jax.random.normal(k[1], (n, A)), log_prob=jnp.zeros(n), value=jnp.zeros(n),
        advantage=jax.random.normal(k[2], (n,)), ret=jnp.zeros(n),
    )
    update = jax.jit(lambda s, key: ppo.update(pcfg, s, batch, key, 1000)[0])
    shuffles = jax.jit(lambda key: jax.vmap(lambda kk: ppo.shuffle_indices(kk, n))(jax.random.split(key, cfg.epochs)))
    perms = jax.jit(lambda key: jax.vmap(lambda kk: jax.random.permutation(kk, n))(jax.random.split(key, cfg.epochs)))
    return {
        "update_ms": round(_best_ms(lambda i: update(state, jax.random.PRNGKey(i)), cfg.calls, cfg.repeats), 2),
        "shuffle_ms": round(_best_ms(lambda i: shuffles(jax.random.PRNGKey(i)), cfg.calls, cfg.repeats), 2),
        "permutation_ms": round(_best_ms(lambda i: perms(jax.random.PRNGKey(i)), cfg.calls, cfg.repeats), 2),
        "setting": f"ppo.update, {n} samples, {'x'.join(map(str, cfg.hidden))} tanh, {cfg.epochs} epochs, minibatch {cfg.minibatch_size}",
        "machine": machine_description(),
    }


if __name__ == "__main__":
    run(ProfileConfig, profile, __doc__)
