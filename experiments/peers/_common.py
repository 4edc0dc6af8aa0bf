"""Shared plumbing of the peer scripts: they run in the peers' virtual environment (SB3, sbx, imitation, torch;
no jirl), time a window of env steps with a Stable-Baselines3 callback and print one JSON line last."""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import sys
import time

PACKAGES = ("torch", "stable-baselines3", "sbx-rl", "imitation", "gymnasium", "mujoco", "jax", "jaxlib", "numpy")


def versions(*names: str) -> dict[str, str]:
    """Installed versions of ``names`` (those not installed are left out)."""
    out = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def parser(doc: str, rollouts: bool) -> argparse.ArgumentParser:
    """Arguments every peer takes; ``rollouts``: on-policy (PPO/GAIL) flags, else SAC's."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env-id", default="HalfCheetah-v5", help="Gymnasium env id")
    p.add_argument("--seed", type=int, default=0, help="seed of the run")
    p.add_argument("--torch-threads", type=int, default=0, help="torch.set_num_threads (0: torch's default, one per core)")
    if rollouts:
        p.add_argument("--num-envs", type=int, default=8, help="parallel envs (DummyVecEnv); a rollout is 2048 steps in all")
        p.add_argument("--warmup-rollouts", type=int, default=3, help="rollouts run before the measured window")
        p.add_argument("--measure-rollouts", type=int, default=100, help="rollouts measured")
    else:
        p.add_argument("--learning-starts", type=int, default=1000, help="random-action steps before learning")
        p.add_argument("--warmup-steps", type=int, default=3000, help="learning steps run before the measured window")
        p.add_argument("--measure-steps", type=int, default=10_000, help="env steps measured")
    return p


def setup_torch(args) -> None:
    """Apply --torch-threads."""
    import torch

    if args.torch_threads < 0:
        sys.exit("error: --torch-threads must be >= 0")
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)


def finish(peer: str, steps: int, seconds: float, **extra) -> None:
    """Print the peer's summary as the last stdout line."""
    import torch

    summary = {
        "peer": peer,
        "env_steps_per_s": round(steps / seconds, 1),
        "measured_steps": steps,
        "measured_s": round(seconds, 2),
        **extra,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "versions": versions(*PACKAGES),
    }
    sys.stdout.flush()
    print(json.dumps(summary), flush=True)


def step_marker(start_step: int):
    """An SB3 callback that stores ``time.perf_counter()`` in ``.start`` at the first env step whose
    ``num_timesteps`` reaches ``start_step`` (checked after every env step, before that step's update)."""
    from stable_baselines3.common.callbacks import BaseCallback

    class StepMarker(BaseCallback):
        def __init__(self):
            super().__init__()
            self.start: float | None = None

        def _on_step(self) -> bool:
            if self.start is None and self.num_timesteps >= start_step:
                self.start = time.perf_counter()
            return True

    return StepMarker()


def rollout_marker(start_step: int):
    """An SB3 callback that stores ``time.perf_counter()`` in ``.start`` when the rollout that begins at
    ``num_timesteps == start_step`` starts collecting."""
    from stable_baselines3.common.callbacks import BaseCallback

    class RolloutMarker(BaseCallback):
        def __init__(self):
            super().__init__()
            self.start: float | None = None

        def _on_rollout_start(self) -> None:
            if self.start is None and self.num_timesteps >= start_step:
                self.start = time.perf_counter()

        def _on_step(self) -> bool:
            return True

    return RolloutMarker()


def check_rollout_args(args) -> int:
    """Steps per env per rollout (2048 / num_envs); exits with a one-line message on bad values."""
    if args.num_envs < 1 or 2048 % args.num_envs:
        sys.exit("error: --num-envs must divide 2048")
    if args.warmup_rollouts < 1 or args.measure_rollouts < 1:
        sys.exit("error: --warmup-rollouts and --measure-rollouts must be >= 1")
    return 2048 // args.num_envs


def run_sac(sac_class, peer: str, args) -> None:
    """Train ``sac_class`` (SB3's or sbx's SAC) with jirl's benchmark settings and print the env steps/s of
    the window after ``learning_starts + warmup_steps`` steps: env step, replay write and one gradient update
    per step, as jirl's window."""
    import gymnasium as gym

    setup_torch(args)
    if args.learning_starts < 1 or args.warmup_steps < 0 or args.measure_steps < 1:
        sys.exit("error: --learning-starts and --measure-steps must be >= 1, --warmup-steps >= 0")
    start = args.learning_starts + args.warmup_steps
    total = start + args.measure_steps
    model = sac_class(
        "MlpPolicy",
        gym.make(args.env_id),
        learning_rate=3e-4,
        buffer_size=1_000_000,
        learning_starts=args.learning_starts,
        batch_size=256,
        tau=0.005,
        gamma=0.99,
        train_freq=1,
        gradient_steps=1,
        ent_coef="auto",
        policy_kwargs={"net_arch": [256, 256]},
        seed=args.seed,
        verbose=0,
    )
    marker = step_marker(start)
    model.learn(total_timesteps=total, callback=marker)
    end = time.perf_counter()
    finish(peer, total - start, end - marker.start, learning_starts=args.learning_starts, warmup_steps=args.warmup_steps)
