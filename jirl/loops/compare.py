"""One table for every imitation method: normalized score vs number of demonstrations, over seeds.

Each (method, number of demos) is a *cell* with its own run folder under ``out_dir``:

- ``bc-<n>demos`` and ``dagger-<n>demos``: all seeds in one compiled program (``jax.vmap`` over seeds);
- ``gail-<n>demos-s<seed>`` (PPO generator) and ``dac-<n>demos-s<seed>`` (SAC learner): one run per seed.

A cell whose ``summary.json`` exists is not trained again, so a killed comparison continues where it
stopped (a GAIL run with a checkpoint resumes from it), and a finished run of ``experiments/gail.py`` with
the same settings can be linked in as a cell. After every cell the table (``table.md``), the figure
(``compare.png``) and ``results.json`` are rewritten from all the finished cells.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Literal

import numpy as np

from jirl.algorithms import bc
from jirl.fileio import atomic_write_bytes, save_figure
from jirl.loops.common import UserError, config_to_dict, machine_description, read_summary

Method = Literal["bc", "dagger", "gail", "dac"]
LABELS = {"bc": "BC", "dagger": "DAgger", "gail": "GAIL (PPO)", "dac": "GAIL (SAC, DAC-style)"}


@dataclasses.dataclass(frozen=True)
class CompareConfig:
    """Run BC, DAgger and GAIL with several demonstration counts and seeds; table + figure of normalized scores."""

    env_id: str = "HalfCheetah-v5"
    """Gymnasium env id (normalized scores need its references; HalfCheetah-v5 has them)."""
    methods: tuple[Method, ...] = ("bc", "dagger", "gail")
    """Methods to run, cheapest first is fastest to a partial table: bc, dagger, gail (PPO), dac (SAC learner)."""
    num_demos: tuple[int, ...] = (1, 4, 10, 25)
    """Demonstration episode counts (the first n episodes of the shipped demonstrations)."""
    num_seeds: int = 3
    """Seeds per cell: seed, seed+1, ... (BC and DAgger train them in one vmapped program)."""
    seed: int = 0
    """First seed."""
    out_dir: str = "runs/compare-HalfCheetah-v5"
    """Folder for the cells' run folders, table.md, compare.png and results.json."""
    eval_episodes: int = 10
    """Deterministic evaluation episodes per seed (for every method)."""
    dagger_rounds: int = 10
    """DAgger rounds after the initial BC fit."""
    dagger_steps_per_round: int = 5000
    """Env steps each DAgger seed collects per round (experiments/dagger.py's default)."""
    gail_steps: int = 2_000_000
    """Env steps of each GAIL (PPO) run (the default of experiments/gail.py)."""
    dac_steps: int = 300_000
    """Env steps of each DAC-style GAIL run (the default of experiments/gail.py --learner sac)."""
    table_only: bool = False
    """Train nothing: rebuild table.md, compare.png and results.json from the finished cells."""
    dagger_bc: bc.BCConfig = bc.BCConfig(lr_schedule="cosine")
    """Behaviour-cloning settings of DAgger's fits (the default of experiments/dagger.py: cosine learning rate)."""
    bc: bc.BCConfig = bc.BCConfig()
    """Behaviour-cloning settings of BC and of GAIL's BC start."""


def check_config(cfg: CompareConfig) -> None:
    if not cfg.methods:
        raise UserError("--methods needs at least one of bc, dagger, gail, dac")
    if not cfg.num_demos or min(cfg.num_demos) < 1:
        raise UserError("--num-demos needs one or more counts >= 1")
    if cfg.num_seeds < 1 or cfg.eval_episodes < 1:
        raise UserError("--num-seeds and --eval-episodes must be >= 1")
    if cfg.dagger_rounds < 0 or cfg.dagger_steps_per_round < 1 or cfg.gail_steps < 1 or cfg.dac_steps < 1:
        raise UserError("--dagger-rounds must be >= 0 and the step budgets >= 1")


def cell_dirs(cfg: CompareConfig, method: str, n: int) -> list[Path]:
    """Run folders of one cell: one for the vmapped methods, one per seed for GAIL."""
    out = Path(cfg.out_dir)
    if method in ("bc", "dagger"):
        return [out / f"{method}-{n}demos"]
    return [out / f"{method}-{n}demos-s{cfg.seed + k}" for k in range(cfg.num_seeds)]


def check_bc_settings(cfg: CompareConfig, method: str, run_dir: Path, summary: dict) -> None:
    """A finished BC/DAgger cell must have been fitted with this comparison's settings (--bc / --dagger-bc);
    a mismatch stops the comparison instead of mixing settings in one table or overwriting the cell."""
    if "config" not in summary:
        return
    # settings added later are absent from older summaries; those runs used what the code did before they existed
    recorded = {**config_to_dict(bc.BCConfig(lr_schedule="constant")), **summary["config"].get("bc", {})}
    wanted = config_to_dict(cfg.dagger_bc if method == "dagger" else cfg.bc)
    diff = {k: (recorded.get(k), v) for k, v in wanted.items() if recorded.get(k) != v}
    if diff:
        flag = "--dagger-bc" if method == "dagger" else "--bc"
        shown = ", ".join(f"{k}: {a!r} there, {b!r} asked" for k, (a, b) in diff.items())
        raise UserError(f"{run_dir} was fitted with other {flag} settings ({shown}); pass the same settings or use another --out-dir")
    # DAgger cells finished before the default became 5,000 recorded 2,000 (or nothing, when older still)
    recorded_steps = summary["config"].get("steps_per_round", 2000)
    if method == "dagger" and recorded_steps != cfg.dagger_steps_per_round:
        raise UserError(f"{run_dir} collected {recorded_steps:,} env steps per round, {cfg.dagger_steps_per_round:,} asked; pass "
                        f"--dagger-steps-per-round {recorded_steps} or use another --out-dir")


def cell_scores(cfg: CompareConfig, method: str, n: int) -> dict | None:
    """``{"scores": [per seed], "wall_s": ..., "env_steps": ...}`` of a finished cell, else None."""
    dirs = cell_dirs(cfg, method, n)
    summaries = [read_summary(d) for d in dirs]
    if any(s is None for s in summaries):
        return None
    if method in ("bc", "dagger"):
        s = summaries[0]
        check_bc_settings(cfg, method, dirs[0], s)
        if s.get("num_seeds") != cfg.num_seeds or s.get("num_demos") != n or "normalized_per_seed" not in s:
            return None
        env_steps = s.get("env_steps_collected", 0)
        return {"scores": s["normalized_per_seed"], "wall_s": s.get("wall_s"), "env_steps": env_steps}
    if any(s.get("num_demos") != n or "normalized_score" not in s for s in summaries):
        return None
    return {
        "scores": [s["normalized_score"] for s in summaries],
        "wall_s": float(np.sum([s.get("wall_s", 0.0) for s in summaries])),
        "env_steps": summaries[0].get("env_steps"),
    }


def adopt_finished_gail(run_dir: Path, n: int, seed: int, total_steps: int) -> bool:
    """A linked-in ``experiments/gail.py`` run folder has no summary.json: write one from its config and its final
    evaluation when they match the cell (same demos, seed and budget, run to the end)."""
    try:
        config = json.loads((run_dir / "config.json").read_text())
        evals = [json.loads(line) for line in (run_dir / "eval.jsonl").read_text().splitlines() if line.strip()]
    except (OSError, json.JSONDecodeError):
        return False
    if not evals or (config.get("num_demos"), config.get("seed"), config.get("total_steps")) != (n, seed, total_steps):
        return False
    last = evals[-1]
    if last["env_steps"] < total_steps or "normalized_score" not in last:
        return False
    summary = {**{k: last[k] for k in ("mean_return", "std_return", "normalized_score", "env_steps")}, "num_demos": n, "adopted_from": "eval.jsonl"}
    atomic_write_bytes(run_dir / "summary.json", json.dumps(summary, indent=2).encode())
    return True


def adopt_all(cfg: CompareConfig) -> None:
    """Write summary.json for every linked-in finished GAIL/DAC run folder (no training)."""
    for m, steps in (("gail", cfg.gail_steps), ("dac", cfg.dac_steps)):
        if m in cfg.methods:
            for n in cfg.num_demos:
                for k, d in enumerate(cell_dirs(cfg, m, n)):
                    if d.is_dir() and read_summary(d) is None:
                        adopt_finished_gail(d, n, cfg.seed + k, steps)


def run_cell(cfg: CompareConfig, method: str, n: int) -> None:
    """Train whatever of the cell is not finished; each finished run leaves a summary.json."""
    from jirl.loops.bc import BCTrainConfig, DAggerTrainConfig, train_bc, train_dagger

    common = {"env_id": cfg.env_id, "num_demos": n, "eval_episodes": cfg.eval_episodes}
    if method in ("bc", "dagger"):
        run_dir = str(cell_dirs(cfg, method, n)[0])
        vm = {**common, "num_seeds": cfg.num_seeds, "seed": cfg.seed, "run_dir": run_dir}
        if method == "bc":
            train_bc(BCTrainConfig(**vm, bc=cfg.bc))
        else:
            dcfg = DAggerTrainConfig(**vm, bc=cfg.dagger_bc, rounds=cfg.dagger_rounds, steps_per_round=cfg.dagger_steps_per_round, eval_rounds=False)
            train_dagger(dcfg)
        return
    from jirl.loops.gail import GAILTrainConfig
    from jirl.loops.gail import train as train_gail

    learner, steps = ("ppo", cfg.gail_steps) if method == "gail" else ("sac", cfg.dac_steps)
    for k, run_dir in enumerate(cell_dirs(cfg, method, n)):
        seed = cfg.seed + k
        if read_summary(run_dir) is not None or adopt_finished_gail(run_dir, n, seed, steps):
            continue
        gcfg = GAILTrainConfig(
            **common, learner=learner, seed=seed, total_steps=steps, run_dir=str(run_dir), resume=(run_dir / "checkpoint.msgpack").exists(), bc=cfg.bc
        )
        t0 = time.time()
        summary = train_gail(gcfg)
        summary.setdefault("wall_s", round(time.time() - t0, 1))
        atomic_write_bytes(run_dir / "summary.json", json.dumps(summary, indent=2).encode())


def collect(cfg: CompareConfig) -> dict:
    """``{method: {n: cell_scores}}`` over the finished cells."""
    return {m: {n: r for n in cfg.num_demos if (r := cell_scores(cfg, m, n)) is not None} for m in cfg.methods}


def fmt_cell(r: dict | None) -> str:
    if r is None:
        return "not run"
    s = np.asarray(r["scores"], float)
    return f"{s.mean():.3f} ± {s.std():.3f}"


def markdown_table(cfg: CompareConfig, results: dict) -> str:
    """Rows: methods; columns: demo counts; entries: mean ± std of the normalized score over seeds."""
    head = "| method | " + " | ".join(f"{n} demo{'s' if n > 1 else ''}" for n in cfg.num_demos) + " | env steps per run |"
    lines = [head, "| --- |" + " ---: |" * len(cfg.num_demos) + " ---: |"]
    for m in cfg.methods:
        cells = [fmt_cell(results[m].get(n)) for n in cfg.num_demos]
        steps = {r["env_steps"] for r in results[m].values() if r.get("env_steps") is not None}
        steps_txt = ", ".join(f"{s:,}" for s in sorted(steps)) or "-"
        lines.append(f"| {LABELS[m]} | " + " | ".join(cells) + f" | {steps_txt} |")
    return "\n".join(lines) + "\n"


def plot(path: Path, cfg: CompareConfig, results: dict) -> None:
    """Normalized score vs number of demonstrations (log x), mean ± std over seeds, one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for i, m in enumerate(cfg.methods):
        ns = [n for n in cfg.num_demos if n in results[m]]
        if not ns:
            continue
        scores = [np.asarray(results[m][n]["scores"], float) for n in ns]
        x = np.asarray(ns, float) * (1.0 + 0.03 * (i - (len(cfg.methods) - 1) / 2))  # keep error bars apart
        ax.errorbar(x, [s.mean() for s in scores], yerr=[s.std() for s in scores], marker="o", capsize=3, label=LABELS[m])
    ax.axhline(1.0, color="green", ls="--", lw=0.8, label="expert")
    ax.axhline(0.0, color="grey", ls=":", lw=0.8, label="random")
    ax.set_xscale("log")
    ax.set_xticks(list(cfg.num_demos))
    ax.set_xticklabels([str(n) for n in cfg.num_demos])
    ax.set_xlabel("expert demonstrations (episodes)")
    ax.set_ylabel(f"normalized score (mean ± std, {cfg.num_seeds} seeds)")
    ax.set_title(f"Imitation on {cfg.env_id}")
    ax.legend(fontsize=8)
    save_figure(fig, path)


def write_outputs(cfg: CompareConfig, results: dict) -> str:
    out = Path(cfg.out_dir)
    table = markdown_table(cfg, results)
    atomic_write_bytes(out / "table.md", table.encode())
    payload = {
        "config": config_to_dict(cfg),
        "machine": machine_description(),
        "results": {m: {str(n): r for n, r in cells.items()} for m, cells in results.items()},
    }
    atomic_write_bytes(out / "results.json", json.dumps(payload, indent=2).encode())
    if any(results.values()):
        plot(out / "compare.png", cfg, results)
    return table


def compare(cfg: CompareConfig) -> dict:
    from jirl.references import reference_lines

    check_config(cfg)
    if not reference_lines(cfg.env_id):
        raise UserError(f"no expert/random reference returns for {cfg.env_id}: normalized scores need them (see README)")
    start = time.time()
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    adopt_all(cfg)
    if not cfg.table_only:
        for m in cfg.methods:  # cheapest methods first: a partial table is there early
            for n in cfg.num_demos:
                if cell_scores(cfg, m, n) is None:
                    print(json.dumps({"cell": f"{m}-{n}demos", "status": "training"}), flush=True)
                    run_cell(cfg, m, n)
                    print(write_outputs(cfg, collect(cfg)), flush=True)
    results = collect(cfg)
    table = write_outputs(cfg, results)
    print(table, flush=True)
    return {
        "cells_finished": sum(len(c) for c in results.values()),
        "cells_total": len(cfg.methods) * len(cfg.num_demos),
        "normalized_score": {m: {str(n): round(float(np.mean(r["scores"])), 4) for n, r in c.items()} for m, c in results.items()},
        "table": str(out / "table.md"),
        "figure": str(out / "compare.png"),
        "wall_s": round(time.time() - start, 1),
        "machine": machine_description(),
    }
