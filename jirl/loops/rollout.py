"""Evaluation and demonstration collection drivers (used by experiments/evaluate.py and collect.py)."""

from __future__ import annotations

import dataclasses
import datetime
import json
import shlex
import sys
import time
from typing import Literal

import numpy as np

from jirl.data import DemoError, from_trajectories, save_demonstrations
from jirl.envs.gym_bridge import VecEnv, run_episodes
from jirl.fileio import atomic_write_bytes
from jirl.loops.common import UserError, machine_description
from jirl.policy import Policy, load_policy
from jirl.references import REFERENCES_FILE, normalized_score


def resolve_policy(spec: str, env: VecEnv, seed: int):
    """``spec`` is a policy file path, or ``random`` for uniform random actions. Returns (callable, Policy|None)."""
    if spec == "random":
        rng = np.random.default_rng(seed)
        return (lambda obs: rng.uniform(-1.0, 1.0, size=(obs.shape[0], env.action_dim))), None
    try:
        policy = load_policy(spec)
    except ValueError as e:
        raise UserError(str(e)) from None
    if policy.obs_dim != env.obs_dim or policy.action_dim != env.action_dim:
        raise UserError(
            f"policy {spec} expects obs/action dims {policy.obs_dim}/{policy.action_dim}, {env.env_id} has {env.obs_dim}/{env.action_dim}"
        )
    return policy, policy


def make_env(env_id: str, num_envs: int, seed: int) -> VecEnv:
    try:
        return VecEnv(env_id, num_envs, seed=seed)
    except ValueError as e:
        raise UserError(str(e)) from None


def env_dims(env_id: str) -> tuple[int, int]:
    """``(obs_dim, action_dim)`` of a Gymnasium env id; an unknown or unsupported id is a UserError."""
    env = make_env(env_id, 1, 0)
    dims = env.obs_dim, env.action_dim
    env.close()
    return dims


def save_reference(env_id: str, which: str, summary: dict) -> None:
    refs = json.loads(REFERENCES_FILE.read_text()) if REFERENCES_FILE.exists() else {}
    refs.setdefault(env_id, {})[which] = {
        "mean_return": summary["mean_return"],
        "std_return": summary["std_return"],
        "episodes": summary["episodes"],
        "seed": summary["seed"],
        "policy": summary["policy"],
        "command": shlex.join(["python", *sys.argv]),  # evaluate.py, or ship_expert.py which calls it
        "machine": machine_description(),
        "date": datetime.date.today().isoformat(),
    }
    atomic_write_bytes(REFERENCES_FILE, (json.dumps(refs, indent=2) + "\n").encode())


@dataclasses.dataclass(frozen=True)
class EvaluateConfig:
    """Evaluate a policy (deterministic actions) for whole episodes and print return statistics."""

    policy: str
    """Path of a policy file (policy.msgpack), or 'random' for uniform random actions."""
    env: str = "HalfCheetah-v5"
    """Gymnasium env id."""
    episodes: int = 10
    """Number of evaluation episodes."""
    seed: int = 0
    """Episode i is reset with seed + i."""
    num_envs: int = 10
    """Episodes run in parallel (at most --episodes)."""
    save_reference: Literal["none", "random", "expert"] = "none"
    """Record this result as the env's random or expert reference return (jirl/experts/references.json),
    used for normalized scores."""
    watch_obs: int | None = None
    """Observation index to watch in every episode, e.g. 1 = HalfCheetah's torso pitch: the summary then counts
    the episodes in which |obs[index]| exceeded --watch-limit (for the pitch: the cheetah flipped over), the
    first step it did, and the mean return with and without those episodes."""
    watch_limit: float = float(np.pi / 2)
    """Threshold on |obs[--watch-obs]| (default pi/2)."""


def watch_summary(env_id: str, returns: np.ndarray, trajectories: list[dict], index: int, limit: float) -> dict:
    """Which episodes had ``|obs[index]| > limit``, when first, and the mean return of the others."""
    over = [np.flatnonzero(np.abs(t["obs"][:, index]) > limit) for t in trajectories]
    hit = np.array([len(o) > 0 for o in over])
    out = {
        "index": index,
        "limit": limit,
        "episodes_over_limit": int(hit.sum()),
        "first_step_over": [int(o[0]) if len(o) else None for o in over],
        "max_abs_per_episode": [round(float(np.abs(t["obs"][:, index]).max()), 3) for t in trajectories],
    }
    if (~hit).any():
        out["mean_return_others"] = float(returns[~hit].mean())
        score = normalized_score(env_id, out["mean_return_others"])
        if score is not None:
            out["normalized_score_others"] = score
    return out


def evaluate(cfg: EvaluateConfig) -> dict:
    if cfg.episodes < 1:
        raise UserError("--episodes must be >= 1")
    t0 = time.time()
    env = make_env(cfg.env, min(cfg.num_envs, cfg.episodes), cfg.seed)
    policy, _ = resolve_policy(cfg.policy, env, cfg.seed)
    if cfg.watch_obs is not None and not 0 <= cfg.watch_obs < env.obs_dim:
        raise UserError(f"--watch-obs must be an observation index in [0, {env.obs_dim}) for {cfg.env}")
    record = cfg.watch_obs is not None
    returns, lengths, trajectories = run_episodes(env, policy, cfg.episodes, seed=cfg.seed, record=record)
    summary = {
        "mean_return": float(returns.mean()),
        "std_return": float(returns.std()),
        "min_return": float(returns.min()),
        "max_return": float(returns.max()),
        "median_return": float(np.median(returns)),
        "returns": [round(float(r), 1) for r in returns],  # per episode, in episode-seed order
        "mean_length": float(lengths.mean()),
        "episodes": len(returns),
        "env": cfg.env,
        "policy": cfg.policy,
        "seed": cfg.seed,
    }
    if record:
        summary["watch"] = watch_summary(cfg.env, returns, trajectories, cfg.watch_obs, cfg.watch_limit)
    if cfg.save_reference != "none":
        save_reference(cfg.env, cfg.save_reference, summary)
    score = normalized_score(cfg.env, summary["mean_return"])
    if score is not None:
        summary["normalized_score"] = score
    summary["wall_s"] = round(time.time() - t0, 2)
    return summary


@dataclasses.dataclass(frozen=True)
class CollectConfig:
    """Roll out a policy and save its episodes as a demonstrations file (.npz)."""

    policy: str
    """Path of a policy file (policy.msgpack), or 'random'."""
    out: str
    """Output .npz path (written atomically; an existing file is only replaced with --overwrite)."""
    env: str = "HalfCheetah-v5"
    """Gymnasium env id."""
    episodes: int = 25
    """Number of whole episodes to record."""
    seed: int = 1
    """Episode i is reset with seed + i."""
    num_envs: int = 5
    """Episodes recorded in parallel."""
    overwrite: bool = False
    """Replace --out if it exists."""


def collect(cfg: CollectConfig) -> dict:
    import os

    if cfg.episodes < 1:
        raise UserError("--episodes must be >= 1")
    if not cfg.out.endswith(".npz"):
        raise UserError(f"--out must end with .npz, got {cfg.out}")
    if os.path.exists(cfg.out) and not cfg.overwrite:
        raise UserError(f"{cfg.out} exists; pass --overwrite to replace it")
    t0 = time.time()
    env = make_env(cfg.env, min(cfg.num_envs, cfg.episodes), cfg.seed)
    policy, loaded = resolve_policy(cfg.policy, env, cfg.seed)
    returns, lengths, trajectories = run_episodes(env, policy, cfg.episodes, seed=cfg.seed, record=True)
    made_by = {
        "policy": cfg.policy,
        "policy_meta": loaded.meta if isinstance(loaded, Policy) else None,
        "deterministic": True,
        "seed": cfg.seed,
        "command": f"python experiments/collect.py --policy {cfg.policy} --env {cfg.env} --episodes {cfg.episodes} --seed {cfg.seed} --out {cfg.out}",
        "machine": machine_description(),
    }
    try:
        demos = from_trajectories(trajectories, cfg.env, env.action_low, env.action_high, made_by)
        save_demonstrations(cfg.out, demos)
    except DemoError as e:
        raise UserError(str(e)) from None
    return {
        "mean_return": float(returns.mean()),
        "std_return": float(returns.std()),
        "episodes": len(returns),
        "transitions": int(lengths.sum()),
        "out": cfg.out,
        "bytes": os.path.getsize(cfg.out),
        "wall_s": round(time.time() - t0, 2),
    }
