"""What does an AIRL run's learned reward g(s) pay for? A diagnostic before (or after) a reward transfer.

    python experiments/airl_probe.py --run-dir runs/airl-HalfCheetah-v5-s0
    python experiments/airl_probe.py --run-dir runs/airl-x3/seed-1 --episodes 3

Loads reward.msgpack (g, the observation statistics it was trained with, and the standardization used by the
transfer), then reports the standardized g, (g - m) / sd, on three kinds of states: the expert's
demonstrations, episodes of uniformly random actions, and episodes of zero actions (the body at rest), with
the env reward and the correlations of g with it and with obs[--velocity-obs] (HalfCheetah: obs[8], the
forward velocity of the torso) within each kind. It then sweeps that velocity coordinate over
--velocities on the expert's own states (everything else unchanged) and reports mean g per velocity.

How to read it: a g that recovers HalfCheetah's reward (forward velocity minus a small control cost) rises
with velocity and pays random and resting states about alike (both have ~0 velocity). A g that also pays for
the expert's posture ranks resting above random states: an agent trained from scratch on it can settle for
standing still, because every gait it tries on the way to running looks unlike the expert. Last stdout
line: a JSON summary.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from jirl.cli import run
from jirl.loops.common import UserError, config_from_dict, machine_description


@dataclasses.dataclass(frozen=True)
class ProbeConfig:
    """Probe the learned reward of an AIRL run."""

    run_dir: str
    """An AIRL run folder with reward.msgpack and config.json (for --num-seeds runs: one seed-<S> folder), or a
    folder of shipped rewards such as jirl/experts/HalfCheetah-v5/airl-rewards/seed-0."""
    episodes: int = 2
    """Episodes of random and of zero actions (each 1,000 steps on HalfCheetah)."""
    demo_episodes: int = 4
    """Expert episodes (the first ones of the run's demonstrations file) to score."""
    seed: int = 500
    """Episode i is reset with seed + i; random actions come from numpy's generator with this seed."""
    velocity_obs: int = 8
    """Observation index of the velocity the true reward pays for (HalfCheetah: 8, forward torso velocity)."""
    velocities: tuple[float, ...] = (-2.0, 0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0)
    """Values of obs[--velocity-obs] to sweep on the expert's states."""


def _run_config(run_dir: Path):
    """The AIRL run's config from its config.json (a SAC-learner run keeps it under "imitation"), or, in a
    folder of shipped rewards (no config.json), from what the reward file records: env id and discriminator
    config (the demonstrations are then the env's shipped ones)."""
    from jirl.algorithms import airl
    from jirl.loops.airl import REWARD_FILE, AIRLTrainConfig, reward_file_meta

    if not (run_dir / "config.json").is_file():
        meta = reward_file_meta(run_dir / REWARD_FILE)
        if "disc" not in meta or "env_id" not in meta:
            raise UserError(f"{run_dir} has no config.json and its {REWARD_FILE} does not record its env and discriminator")
        return dataclasses.replace(AIRLTrainConfig(), env_id=meta["env_id"], disc=config_from_dict(airl.AIRLConfig, meta["disc"]))
    try:
        raw = json.loads((run_dir / "config.json").read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"cannot read {run_dir / 'config.json'}: {e}; pass an AIRL run folder") from None
    raw = raw.get("imitation", raw)
    if "disc" not in raw or "reward_hidden" not in raw["disc"]:
        raise UserError(f"{run_dir} is not an AIRL run (see its config.json)")
    keep = ("env_id", "demos", "num_demos", "normalize_obs")
    return dataclasses.replace(AIRLTrainConfig(), **{k: raw[k] for k in keep if k in raw}, disc=config_from_dict(airl.AIRLConfig, raw["disc"]))


def _rollout(env_id: str, act, episodes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from jirl.envs.gym_bridge import VecEnv, run_episodes

    env = VecEnv(env_id, 1, seed=seed)
    try:
        _, _, trajs = run_episodes(env, act, episodes, seed=seed, record=True)
    finally:
        env.close()
    return np.concatenate([t["obs"] for t in trajs]), np.concatenate([t["reward"] for t in trajs])


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1]) if np.std(a) > 0 and np.std(b) > 0 else 0.0


def probe(cfg: ProbeConfig) -> dict:
    import jax.numpy as jnp

    from jirl.algorithms import airl
    from jirl.envs.normalize import norm_apply
    from jirl.loops.airl import REWARD_FILE, load_reward
    from jirl.loops.gail import load_expert
    from jirl.loops.rollout import env_dims

    run_dir = Path(cfg.run_dir)
    if not (run_dir / REWARD_FILE).is_file():
        raise UserError(f"{run_dir} has no {REWARD_FILE}: pass a finished AIRL run folder (for --num-seeds runs, one seed-<S> folder)")
    if cfg.episodes < 1 or cfg.demo_episodes < 1:
        raise UserError("--episodes and --demo-episodes must be >= 1")
    rcfg = _run_config(run_dir)
    obs_dim, action_dim = env_dims(rcfg.env_id)
    if not 0 <= cfg.velocity_obs < obs_dim:
        raise UserError(f"--velocity-obs must be in [0, {obs_dim}), got {cfg.velocity_obs}")
    if not rcfg.disc.state_only:
        raise UserError("this probe reads state-only rewards g(s); the run learned g(s, a)")
    tree, meta = load_reward(run_dir / REWARD_FILE, rcfg.disc, obs_dim, action_dim, rcfg.normalize_obs)
    m, sd = meta["reward_mean"], meta["reward_std"]

    def g(obs: np.ndarray) -> np.ndarray:
        x = norm_apply(tree["norm"], jnp.asarray(obs, jnp.float32))  # identity when the run had no normalization
        return (np.asarray(airl.reward(rcfg.disc, {"g": tree["g"]}, x)) - m) / sd

    demos = load_expert(dataclasses.replace(rcfg, num_demos=cfg.demo_episodes), obs_dim, action_dim)
    rng = np.random.default_rng(cfg.seed)
    kinds = {
        "expert": (demos.observations, demos.rewards),
        "random_actions": _rollout(rcfg.env_id, lambda o: rng.uniform(-1.0, 1.0, (o.shape[0], action_dim)), cfg.episodes, cfg.seed),
        "zero_actions": _rollout(rcfg.env_id, lambda o: np.zeros((o.shape[0], action_dim)), cfg.episodes, cfg.seed),
    }
    v = cfg.velocity_obs
    print(f"standardized g = (g - {m:.3f}) / {sd:.3f} of {run_dir / REWARD_FILE}")
    print(f"{'states':<15} {'mean g':>8} {'sd g':>6} {'mean env r':>11} {'corr(g, r)':>11} {'corr(g, obs[' + str(v) + '])':>17}")
    out: dict = {"run_dir": str(run_dir), "env_id": rcfg.env_id, "velocity_obs": v}
    for name, (obs, rew) in kinds.items():
        gv = g(obs)
        row = {"mean_g": float(gv.mean()), "std_g": float(gv.std()), "mean_env_reward": float(np.mean(rew)), "corr_g_reward": _corr(gv, rew), "corr_g_velocity": _corr(gv, obs[:, v])}
        out[name] = row
        print(f"{name:<15} {row['mean_g']:8.2f} {row['std_g']:6.2f} {row['mean_env_reward']:11.2f} {row['corr_g_reward']:11.2f} {row['corr_g_velocity']:17.2f}")
    sweep = {}
    for vel in cfg.velocities:
        obs = np.array(demos.observations, copy=True)
        obs[:, v] = vel
        sweep[str(vel)] = float(g(obs).mean())
    print(f"expert states with obs[{v}] set to: " + ", ".join(f"{k}: {val:.2f}" for k, val in sweep.items()))
    out["velocity_sweep"] = sweep
    out["machine"] = machine_description()
    return out


if __name__ == "__main__":
    run(ProbeConfig, probe, __doc__)
