"""Look inside a finished GAIL (PPO learner) run: where its policy falls over, and what its discriminator pays there.

    python experiments/gail_probe.py --run-dir runs/gail-HalfCheetah-v5-s0
    python experiments/gail_probe.py --run-dir runs/gail-x3/seed-1 --episodes 20 --seed 500

Loads the run's last checkpoint (policy, discriminator, observation statistics; the run's config.json gives
the network sizes), rolls out --episodes whole episodes twice, with the deterministic policy (what
evaluations score) and with the stochastic one (what training collects), and reports per mode: the mean
return, the episodes in which |obs[--watch-obs]| exceeded --watch-limit (HalfCheetah: obs[1] is the torso
pitch, beyond pi/2 the cheetah has flipped onto its back) and the step it first did, and the mean
discriminator reward (the run's reward kind) on the states before and after such a flip. A discriminator
that pays flipped states as well as upright ones would explain flips; one that pays them ~0 says the flips
are the learner's failure to avoid them. Last stdout line: a JSON summary.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np

from jirl.cli import run
from jirl.loops.common import UserError, config_from_dict, machine_description


@dataclasses.dataclass(frozen=True)
class ProbeConfig:
    """Probe a GAIL (PPO learner) run's final policy and discriminator."""

    run_dir: str
    """A GAIL run folder with checkpoint.msgpack and config.json (for --num-seeds runs: one seed-<S> folder)."""
    episodes: int = 20
    """Episodes per mode (deterministic, stochastic)."""
    seed: int = 500
    """Episode i is reset with seed + i (500: the fresh episodes used elsewhere in the README)."""
    watch_obs: int = 1
    """Observation index to watch (HalfCheetah: 1 = torso pitch)."""
    watch_limit: float = math.pi / 2
    """|obs[watch_obs]| beyond this counts as a flip."""


def _config(run_dir: Path):
    from jirl.algorithms import gail, ppo

    try:
        raw = json.loads((run_dir / "config.json").read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"cannot read {run_dir / 'config.json'}: {e}; pass a GAIL run folder") from None
    if raw.get("learner", "ppo") != "ppo" or "disc" not in raw or "ppo" not in raw:
        raise UserError(f"{run_dir} is not a GAIL run with the PPO learner (see its config.json)")
    if raw.get("num_seeds", 1) > 1:
        raise UserError(f"{run_dir} holds {raw['num_seeds']} seeds; pass one of its seed-<S> folders")

    return raw, config_from_dict(ppo.PPOConfig, raw["ppo"]), config_from_dict(gail.DiscriminatorConfig, raw["disc"])


def probe(cfg: ProbeConfig) -> dict:
    import jax

    from jirl.algorithms import gail, ppo
    from jirl.envs.gym_bridge import VecEnv, run_episodes
    from jirl.envs.normalize import norm_apply, norm_init, reward_scaler_init
    from jirl.loops.common import load_checkpoint
    from jirl.loops.gail import disc_inputs

    if cfg.episodes < 1:
        raise UserError("--episodes must be >= 1")
    run_dir = Path(cfg.run_dir)
    raw, pcfg, dcfg = _config(run_dir)
    if not (run_dir / "checkpoint.msgpack").exists():
        raise UserError(f"no checkpoint.msgpack in {run_dir}")
    E = cfg.episodes
    env = VecEnv(raw["env_id"], E, seed=cfg.seed)
    try:
        D, A = env.obs_dim, env.action_dim
        if not 0 <= cfg.watch_obs < D:
            raise UserError(f"--watch-obs must be in [0, {D - 1}]")
        input_dim = D + (A if dcfg.input == "sa" else D)
        template = {
            "ppo": ppo.init(pcfg, jax.random.PRNGKey(0), D, A, 1),
            "aux": gail.init(dcfg, jax.random.PRNGKey(0), input_dim),
            "norm": norm_init(D) if raw.get("normalize_obs", True) else None,
            "scaler": reward_scaler_init(raw["num_envs"]) if raw.get("normalize_reward", True) else None,
            "key": jax.random.PRNGKey(0),
        }
        try:
            tree, meta = load_checkpoint(run_dir, template)
        except ValueError as e:
            raise UserError(f"{run_dir}: {e}") from None
        params, disc, norm = tree["ppo"].params, tree["aux"].params, tree["norm"]
        outputs = jax.jit(lambda o: ppo.policy_outputs(pcfg, params, norm_apply(norm, o))[:2])
        reward = jax.jit(lambda o, a, o2: gail.reward_from_logits(gail.logits(dcfg, disc, disc_inputs(dcfg.input, norm, o, a, o2)), dcfg.reward))
        rng = np.random.default_rng(cfg.seed)
        policies = {
            "deterministic": lambda o: np.asarray(outputs(o)[0]),
            "stochastic": lambda o: (lambda m, s: m + np.exp(s) * rng.standard_normal(m.shape))(*(np.asarray(x) for x in outputs(o))),
        }
        result = {}
        for mode, policy in policies.items():
            returns, _, trajectories = run_episodes(env, policy, E, cfg.seed, record=True)
            flipped_at, paid = [], {"upright": [], "flipped": []}
            for tr in trajectories:
                flip = np.abs(tr["obs"][:, cfg.watch_obs]) > cfg.watch_limit
                first = int(np.argmax(flip)) if flip.any() else len(flip)
                r = np.asarray(reward(tr["obs"], tr["action"], tr["next_obs"]))
                paid["upright"].extend(r[:first].tolist())
                paid["flipped"].extend(r[first:].tolist())
                flipped_at.append(first if flip.any() else -1)
            flipped_at = np.asarray(flipped_at)
            n_flip = int((flipped_at >= 0).sum())
            result[mode] = {
                "mean_return": float(returns.mean()),
                "flipped_episodes": n_flip,
                "first_flip_steps": sorted(int(s) for s in flipped_at if s >= 0),
                "mean_return_without_flips": float(returns[flipped_at < 0].mean()) if n_flip < E else None,
                "disc_reward_upright": float(np.mean(paid["upright"])) if paid["upright"] else None,
                "disc_reward_after_flip": float(np.mean(paid["flipped"])) if paid["flipped"] else None,
            }
            print(f"{mode:>13}: return {returns.mean():,.0f}, {n_flip}/{E} episodes flipped; "
                  f"{dcfg.reward} reward upright {result[mode]['disc_reward_upright']:.3f}, after a flip "
                  + (f"{result[mode]['disc_reward_after_flip']:.3f}" if n_flip else "-"))
    finally:
        env.close()
    return {"run_dir": str(run_dir), "env_steps": meta.get("step"), "episodes": E, "seed": cfg.seed, "reward_kind": dcfg.reward, **result,
            "machine": machine_description()}


if __name__ == "__main__":
    run(ProbeConfig, probe, __doc__)
