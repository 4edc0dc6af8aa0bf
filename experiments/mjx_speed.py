"""Env steps/s of the MJX twin of HalfCheetah-v5 (jirl/envs/mjx_halfcheetah.py): one jitted ``lax.scan`` of
vmapped ``step_autoreset`` calls with uniform random actions, for several numbers of envs.

    pip install -e ".[mjx]"
    python experiments/mjx_speed.py                              # 1, 64 and 1024 envs, ~20,000 env steps each
    python experiments/mjx_speed.py --num-envs 4096 --env-steps 100000   # e.g. on a GPU
    python experiments/mjx_speed.py --num-envs 64 --ls-iterations None  # the model file's line-search cap (50)

For each number of envs N the scan runs ``max(1, env_steps // N)`` steps of all N envs in one call; the first
call (compilation included) is timed separately, then --repeats calls are timed and the best is reported.
Episodes are truncated and reset inside the scan at step 1000, as in Gymnasium. For scale, one plain
Gymnasium ``HalfCheetah-v5`` (MuJoCo in C, float64) is stepped --gym-steps times with random actions.
Last stdout line: a JSON summary.

On a 2-core CPU (jaxlib 0.10.2) the 1,024-env call sometimes never returns (an XLA:CPU hang with every thread
idle; see jirl/envs/mjx_halfcheetah.py); interrupt it and measure fewer envs.
"""

from __future__ import annotations

import dataclasses
import time

from jirl.cli import run
from jirl.loops.common import UserError, machine_description


@dataclasses.dataclass(frozen=True)
class MJXSpeedConfig:
    """Measure env steps/s of the MJX HalfCheetah-v5 twin for several numbers of vmapped envs."""

    num_envs: tuple[int, ...] = (1, 64, 1024)
    """Numbers of vmapped envs to measure."""
    env_steps: int = 20_000
    """Env steps (all envs together) per timed call; the scan length is env_steps // num_envs."""
    repeats: int = 2
    """Timed calls per number of envs (the best one is reported)."""
    gym_steps: int = 5_000
    """Steps of one plain Gymnasium HalfCheetah-v5 for comparison (0: skip)."""
    seed: int = 0
    """PRNG seed of the reset noise and the random actions."""
    ls_iterations: int | None = 8
    """Cap on MJX's line-search iterations (HalfCheetahMJX's default 8; None: the model file's 50)."""


def _gym_steps_per_s(steps: int, seed: int) -> float:
    import gymnasium as gym
    import numpy as np

    from jirl.envs.gym_bridge import quiet_mujoco_warnings

    quiet_mujoco_warnings()
    env = gym.make("HalfCheetah-v5")
    env.reset(seed=seed)
    actions = np.random.default_rng(seed).uniform(-1.0, 1.0, (steps, 6))
    t = time.perf_counter()
    for a in actions:
        _, _, terminated, truncated, _ = env.step(a)
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - t)


def measure(cfg: MJXSpeedConfig) -> dict:
    import jax

    from jirl.envs.mjx_halfcheetah import HalfCheetahMJX, MJXNotInstalledError

    if not cfg.num_envs or min(cfg.num_envs) < 1 or cfg.env_steps < 1 or cfg.repeats < 1 or cfg.gym_steps < 0:
        raise UserError("--num-envs, --env-steps and --repeats must be >= 1, --gym-steps >= 0")
    try:
        env = HalfCheetahMJX(ls_iterations=cfg.ls_iterations)
    except MJXNotInstalledError as e:
        raise UserError(str(e)) from None

    steps_per_s, compile_s = {}, {}
    for n in cfg.num_envs:
        length = max(1, cfg.env_steps // n)

        def rollout(state, key, n=n, length=length):
            def body(state, key):
                action = jax.random.uniform(key, (n, env.action_dim), minval=-1.0, maxval=1.0)
                state, _, reward, _, truncated, _ = jax.vmap(env.step_autoreset)(state, action)
                return state, (reward.sum(), truncated.sum())

            return jax.lax.scan(body, state, jax.random.split(key, length))

        fn = jax.jit(rollout)
        key = jax.random.PRNGKey(cfg.seed)
        state = jax.device_put(jax.vmap(env.reset)(jax.random.split(key, n)), jax.devices()[0])  # committed: one compile
        t = time.perf_counter()
        state, out = jax.block_until_ready(fn(state, jax.device_put(key, jax.devices()[0])))
        first = time.perf_counter() - t
        best = float("inf")
        for i in range(cfg.repeats):
            t = time.perf_counter()
            state, out = jax.block_until_ready(fn(state, jax.random.fold_in(key, i + 1)))
            best = min(best, time.perf_counter() - t)
        steps_per_s[n] = round(n * length / best, 1)
        compile_s[n] = round(max(first - best, 0.0), 1)
        print(f"{n:6d} envs x {length:6d} steps: {steps_per_s[n]:10,.1f} env steps/s (compile ~{compile_s[n]:.1f} s)", flush=True)

    summary = {
        "env": "HalfCheetah-v5 MJX twin (float32)",
        "ls_iterations": int(env.mj_model.opt.ls_iterations),
        "backend": jax.default_backend(),
        "env_steps_per_s": steps_per_s,
        "compile_s": compile_s,
    }
    if cfg.gym_steps:
        summary["gymnasium_1_env_steps_per_s"] = round(_gym_steps_per_s(cfg.gym_steps, cfg.seed), 1)
        print(f"Gymnasium HalfCheetah-v5, 1 env: {summary['gymnasium_1_env_steps_per_s']:,.1f} env steps/s", flush=True)
    summary["machine"] = machine_description()
    return summary


if __name__ == "__main__":
    run(MJXSpeedConfig, measure, __doc__)
