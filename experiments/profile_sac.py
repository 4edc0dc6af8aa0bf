"""Where SAC's time goes: times one SAC update on a fixed batch (no env, no replay) and a lone matmul.

    python experiments/profile_sac.py

Prints, as its last line, JSON with update_ms (one 256x256 SAC update at batch 256, one jitted call each),
update_gflops (its matmul FLOPs per second, counted analytically), matmul_gflops (a 256x256x256 float32
matmul), so that the update's efficiency can be compared with what XLA's matmul reaches on this machine, and
fused_updates_per_s: updates per second when --fused updates run in one call (a ``lax.scan``, as SAC's
``update_from_buffer`` fuses them; here on the same fixed batch), which removes the per-call dispatch cost
that dominates on a GPU.
"""

from __future__ import annotations

import dataclasses
import functools
import time

from jirl.cli import run
from jirl.loops.common import UserError, machine_description


@dataclasses.dataclass(frozen=True)
class ProfileConfig:
    seconds: float = 5.0
    """Time spent measuring each figure."""
    obs_dim: int = 17
    """Observation size (HalfCheetah-v5: 17)."""
    action_dim: int = 6
    """Action size (HalfCheetah-v5: 6)."""
    fused: int = 1000
    """Updates per call for fused_updates_per_s (0: skip that figure)."""


def _time(fn, args, seconds):
    import jax

    jax.block_until_ready(fn(*args))
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        out = fn(*args)
        n += 1
    jax.block_until_ready(out)
    return (time.perf_counter() - t0) / n


def profile(cfg: ProfileConfig) -> dict:
    if not cfg.seconds > 0 or min(cfg.obs_dim, cfg.action_dim) < 1 or cfg.fused < 0:
        raise UserError("--seconds must be > 0, --obs-dim and --action-dim >= 1, --fused >= 0")
    import jax
    import jax.numpy as jnp

    from jirl.algorithms import sac
    from jirl.buffers import Transition

    scfg = sac.SACConfig()
    b, h, o, a = scfg.batch_size, scfg.hidden[0], cfg.obs_dim, cfg.action_dim
    state = sac.init(scfg, jax.random.PRNGKey(0), o, a)
    batch = Transition(obs=jnp.ones((b, o)), action=jnp.zeros((b, a)), reward=jnp.zeros(b), next_obs=jnp.ones((b, o)), terminated=jnp.zeros(b))
    update = jax.jit(functools.partial(sac.update, scfg))
    dt = _time(lambda s: update(s, batch, jax.random.PRNGKey(0)), (state,), cfg.seconds)
    # multiply-adds per sample: actor MLP and one critic MLP (2 hidden layers of width h)
    actor = o * h + h * h + h * 2 * a
    critic = (o + a) * h + h * h + h
    # target: actor fwd + 2 target critics; critic loss: 2 critics fwd + bwd (~2x fwd); actor loss: actor fwd+bwd, 2 critics fwd + input-grad bwd
    macs = b * (actor + 2 * critic + 2 * critic * 3 + actor * 3 + 2 * critic * 2)
    x = jnp.ones((256, 256))
    mm = _time(jax.jit(lambda x: x @ x), (x,), cfg.seconds)
    fused = {}
    if cfg.fused > 0:
        @jax.jit
        def many(state, key):
            body = lambda s, k: (sac.update(scfg, s, batch, k)[0], None)
            return jax.lax.scan(body, state, jax.random.split(key, cfg.fused))[0]

        fused = {"fused_updates_per_s": round(cfg.fused / _time(lambda s: many(s, jax.random.PRNGKey(1)), (state,), cfg.seconds), 1), "fused": cfg.fused}
    return {
        "update_ms": round(dt * 1e3, 3),
        "updates_per_s": round(1.0 / dt, 1),
        **fused,
        "update_gflop": round(2 * macs / 1e9, 3),
        "update_gflops": round(2 * macs / dt / 1e9, 1),
        "matmul_256_gflops": round(2 * 256**3 / mm / 1e9, 1),
        "machine": machine_description(),
    }


if __name__ == "__main__":
    run(ProfileConfig, profile, __doc__)
