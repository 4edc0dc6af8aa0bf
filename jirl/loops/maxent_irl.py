"""MaxEnt IRL experiment driver: build tabular worlds, sample demonstrations from the soft-optimal policy of
the true reward, recover the reward for several demo seeds in one compiled program (``jax.vmap`` over seeds),
and report correlation and policy quality, with a heatmap figure and a markdown table."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np

from jirl.algorithms import maxent_irl as mi
from jirl.envs import tabular
from jirl.fileio import atomic_write_bytes, save_figure
from jirl.loops.common import UserError, config_to_dict, machine_description

World = Literal["grid5", "grid10", "objectworld10"]


@dataclasses.dataclass(frozen=True)
class MaxEntIRLExperimentConfig:
    """Recover the rewards of tabular worlds with MaxEnt IRL (linear and deep)."""

    worlds: tuple[World, ...] = ("grid5", "grid10", "objectworld10")
    """grid5 / grid10: 5x5 and 10x10 gridworlds (reward = random Gaussian bumps, one-hot features, linear
    reward); objectworld10: a 10x10 objectworld whose reward is nonlinear in its distance features, learned
    with a linear and with a neural reward."""
    num_demos: int = 2000
    """Demonstrated trajectories per seed, sampled from the soft-optimal policy of the true reward (each
    2 x size steps long)."""
    exact_svf: bool = False
    """Use the expert's exact expected visitation frequencies instead of sampled demonstrations (the
    infinite-data limit; --num-demos is then ignored)."""
    num_seeds: int = 3
    """Independent demonstration samples / initializations, trained together with jax.vmap."""
    seed: int = 0
    """First seed; seeds are seed, seed+1, ..."""
    world_seed: int = 0
    """Seed of the worlds' layouts and rewards."""
    slip: float = 0.2
    """Probability that an action is replaced by a uniformly random one."""
    linear: mi.MaxEntIRLConfig = mi.MaxEntIRLConfig()
    """The linear-reward learner (Ziebart 2008)."""
    deep: mi.MaxEntIRLConfig = mi.MaxEntIRLConfig(hidden=(32, 32), learning_rate=0.01, l2=0.03, iterations=1000)
    """The neural-reward learner (deep MaxEnt IRL), used on the objectworld."""
    run_dir: str = "runs/maxent-irl"
    """Where results.json, table.md and maxent_irl.png go."""


def build_world(name: str, slip: float, seed: int) -> tuple[tabular.TabularMDP, list[str]]:
    """The MDP and the reward models to fit on it."""
    if name == "grid5":
        return tabular.gridworld(5, slip=slip, seed=seed), ["linear"]
    if name == "grid10":
        return tabular.gridworld(10, slip=slip, seed=seed), ["linear"]
    if name == "objectworld10":
        return tabular.objectworld(10, slip=slip, seed=seed)[0], ["linear", "deep"]
    raise UserError(f"unknown world {name!r}: choose from grid5, grid10, objectworld10")


def check_config(cfg: MaxEntIRLExperimentConfig) -> None:
    if not cfg.worlds:
        raise UserError("pass at least one world with --worlds")
    if cfg.num_demos < 1 or cfg.num_seeds < 1:
        raise UserError("--num-demos and --num-seeds must be >= 1")
    if not 0.0 <= cfg.slip <= 1.0:
        raise UserError(f"--slip must be in [0, 1], got {cfg.slip}")
    for name, c in (("linear", cfg.linear), ("deep", cfg.deep)):
        if c.iterations < 1 or c.learning_rate <= 0 or c.l2 < 0:
            raise UserError(f"--{name}.iterations must be >= 1, --{name}.learning-rate > 0 and --{name}.l2 >= 0")


def run_world(mdp: tabular.TabularMDP, irl_cfg: mi.MaxEntIRLConfig, num_demos: int, seeds: jax.Array, exact_svf: bool = False) -> dict:
    """Sample demos (or take the exact expert visitation) and fit the reward for every seed in one program;
    returns per-seed arrays."""

    def one_seed(key):
        k_demo, k_init = jax.random.split(key)
        expert = mi.soft_policy(mdp, mdp.reward)
        if exact_svf:
            expert_svf = mi.visitation(mdp, expert)
        else:
            states, _ = mi.sample_trajectories(mdp, expert, k_demo, num_demos)
            expert_svf = mi.empirical_svf(states, mdp.num_states, mdp.gamma)
        result = mi.fit(irl_cfg, mdp, expert_svf, k_init)
        return result.reward, result.history, mi.evaluate_reward(mdp, result.reward), mi.greedy_policy(mdp, result.reward)

    keys = jax.vmap(jax.random.PRNGKey)(seeds)
    rewards, history, metrics, policies = jax.jit(jax.vmap(one_seed))(keys)
    return {
        "rewards": np.asarray(rewards),
        "history": jax.tree_util.tree_map(np.asarray, history),
        "metrics": jax.tree_util.tree_map(np.asarray, metrics),
        "policies": np.asarray(policies),
    }


def plot(path: Path, panels: list[tuple[str, tabular.TabularMDP, dict]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arrows = {1: (1, 0), 2: (-1, 0), 3: (0, 1), 4: (0, -1)}
    fig, axes = plt.subplots(len(panels), 4, figsize=(15, 3.6 * len(panels)), squeeze=False)
    for row, (label, mdp, res) in zip(axes, panels, strict=True):
        true = mdp.as_grid(mdp.reward)
        rec = mdp.as_grid(res["rewards"][0])
        for ax, img, title in ((row[0], true, f"{mdp.name}: true reward"), (row[1], rec, f"{label}: recovered (seed 0)")):
            im = ax.imshow(img, cmap="viridis")
            ax.set_title(title, fontsize=9)
            fig.colorbar(im, ax=ax, fraction=0.046)
            ax.set_xticks([])
            ax.set_yticks([])
        pi0 = res["policies"][0]
        first = pi0[0] if pi0.ndim == 3 else pi0  # the policy at t = 0
        ax = row[2]
        ax.imshow(true, cmap="viridis", alpha=0.6)
        for s, a in enumerate(first.argmax(-1)):
            y, x = divmod(s, mdp.width)
            if a == 0:
                ax.plot(x, y, "k.", ms=4)
            else:
                dx, dy = arrows[int(a)]
                ax.arrow(x - 0.25 * dx, y - 0.25 * dy, 0.4 * dx, 0.4 * dy, head_width=0.18, color="k")
        m = res["metrics"]
        ax.set_title(f"optimal policy for recovered reward (t=0)\ntrue return {m['return_ratio'][0]:.3f} of optimal", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        ax = row[3]
        for i, curve in enumerate(res["history"]["pearson"]):
            ax.plot(curve, label=f"seed {i}")
        ax.set_xlabel("iteration")
        ax.set_ylabel("Pearson r (recovered, true)")
        ax.set_ylim(min(0.0, float(res["history"]["pearson"].min())), 1.0)
        ax.axhline(0.9, color="grey", ls="--", lw=0.8)
        ax.legend(fontsize=7)
        ax.set_title(f"{label}: correlation with the true reward", fontsize=9)
    save_figure(fig, path, dpi=90)


def train(cfg: MaxEntIRLExperimentConfig) -> dict:
    check_config(cfg)
    run_dir = Path(cfg.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    seeds = jnp.arange(cfg.seed, cfg.seed + cfg.num_seeds)
    start = time.time()
    rows, panels, results = [], [], {}
    for name in dict.fromkeys(cfg.worlds):
        mdp, models = build_world(name, cfg.slip, cfg.world_seed)
        for model in models:
            irl_cfg = cfg.linear if model == "linear" else cfg.deep
            t0 = time.time()
            res = run_world(mdp, irl_cfg, cfg.num_demos, seeds, cfg.exact_svf)
            wall = time.time() - t0
            m = res["metrics"]
            label = f"{name}/{model}"
            results[label] = {
                "pearson": m["pearson"].tolist(),
                "return_ratio": m["return_ratio"].tolist(),
                "normalized_return": m["normalized_return"].tolist(),
                "pearson_mean": float(m["pearson"].mean()),
                "return_ratio_mean": float(m["return_ratio"].mean()),
                "wall_s": round(wall, 2),
            }
            rows.append(
                f"| {mdp.name} | {'MLP ' + 'x'.join(map(str, irl_cfg.hidden)) if irl_cfg.hidden else 'linear'} | "
                f"{mdp.num_features} | {m['pearson'].mean():.3f} +- {m['pearson'].std():.3f} (min {m['pearson'].min():.3f}) | "
                f"{m['return_ratio'].mean():.4f} (min {m['return_ratio'].min():.4f}) | "
                f"{m['normalized_return'].mean():.4f} | {wall:.1f} |"
            )
            panels.append((label, mdp, res))
    header = (
        f"MaxEnt IRL, {'exact expert visitation frequencies' if cfg.exact_svf else f'{cfg.num_demos} demonstrations per seed'}, {cfg.num_seeds} seeds (mean +- std), slip {cfg.slip}; "
        f"{machine_description()}\n\n"
        "| world | reward model | features | Pearson r (recovered, true) | true return of its optimal policy / optimal | "
        "normalized (uniform = 0) | wall s (all seeds) |\n|---|---|---|---|---|---|---|"
    )
    table = header + "\n" + "\n".join(rows) + "\n"
    print(table, flush=True)
    atomic_write_bytes(run_dir / "table.md", table.encode())
    plot(run_dir / "maxent_irl.png", panels)
    wall = time.time() - start
    summary = {
        "results": {k: {kk: v[kk] for kk in ("pearson_mean", "return_ratio_mean")} for k, v in results.items()},
        "min_pearson_linear_grids": min((min(v["pearson"]) for k, v in results.items() if k.startswith("grid")), default=None),
        "min_return_ratio": min(min(v["return_ratio"]) for v in results.values()),
        "wall_s": round(wall, 1),
        "machine": machine_description(),
        "run_dir": str(run_dir),
        "figure": str(run_dir / "maxent_irl.png"),
    }
    atomic_write_bytes(
        run_dir / "results.json", json.dumps({"config": config_to_dict(cfg), "results": results, "summary": summary}, indent=2).encode()
    )
    return summary
