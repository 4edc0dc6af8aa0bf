"""Plot and tabulate the evaluation curves of several finished (or running) runs, e.g. seeds of one experiment.

    python experiments/plot_runs.py --runs runs/gail-s0 runs/gail-s1 runs/gail-s2 --out gail.png --title "GAIL, 4 demos"
    python experiments/plot_runs.py --runs runs/ppo-s0 --out ppo.png --metric mean_return

Reads each run's eval.jsonl, draws every run's curve plus the mean over runs (at the env steps they share),
with the expert and random reference returns when the runs logged normalized scores, and prints a markdown
table: per run the final and the best evaluation, and the first env step at which --threshold was reached.
Last stdout line: a JSON summary.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Literal

import numpy as np

from jirl.cli import run
from jirl.fileio import atomic_write_bytes
from jirl.loops.common import UserError


@dataclasses.dataclass(frozen=True)
class PlotConfig:
    """Curves and a table from the eval.jsonl of several runs."""

    runs: tuple[str, ...]
    """Run folders (each with an eval.jsonl)."""
    out: str = "runs.png"
    """PNG to write."""
    metric: Literal["normalized_score", "mean_return"] = "normalized_score"
    """What to plot and tabulate."""
    threshold: float = 0.9
    """Report the first env step at which the metric reached this value."""
    title: str = ""
    """Plot title."""


def read_eval(run_dir: Path, metric: str) -> tuple[np.ndarray, np.ndarray]:
    path = run_dir / "eval.jsonl"
    if not path.is_file():
        raise UserError(f"{path} does not exist; pass run folders written by jirl's training scripts")
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if metric in r]
    if not rows:
        raise UserError(f"{path} has no '{metric}' entries (normalized_score needs an env with reference returns)")
    return np.array([r["env_steps"] for r in rows]), np.array([r[metric] for r in rows])


def plot(cfg: PlotConfig) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not cfg.runs:
        raise UserError("pass at least one run folder with --runs")
    curves = {r: read_eval(Path(r), cfg.metric) for r in cfg.runs}
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, (x, y) in curves.items():
        ax.plot(x, y, lw=1, alpha=0.55, label=Path(name).name)
    common = sorted(set.intersection(*(set(x.tolist()) for x, _ in curves.values())))
    if len(curves) > 1 and common:
        ys = np.array([[y[list(x).index(s)] for s in common] for x, y in curves.values()])
        ax.plot(common, ys.mean(0), color="k", lw=2, label=f"mean of {len(curves)}")
        ax.fill_between(common, ys.min(0), ys.max(0), color="k", alpha=0.08)
    if cfg.metric == "normalized_score":
        ax.axhline(1.0, color="g", ls="--", lw=1, label="expert")
        ax.axhline(0.0, color="r", ls="--", lw=1, label="random")
        ax.axhline(cfg.threshold, color="gray", ls=":", lw=1)
    ax.set_xlabel("env steps")
    ax.set_ylabel(cfg.metric.replace("_", " "))
    ax.set_title(cfg.title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(Path(cfg.out), buf.getvalue())

    print(f"| run | env steps | final {cfg.metric} | best | first step >= {cfg.threshold:g} |")
    print("| --- | --- | --- | --- | --- |")
    table = []
    for name, (x, y) in curves.items():
        hit = x[np.flatnonzero(y >= cfg.threshold)]
        row = {"run": name, "env_steps": int(x[-1]), "final": float(y[-1]), "best": float(y.max()), "first_at_threshold": int(hit[0]) if hit.size else None}
        table.append(row)
        first = f"{row['first_at_threshold']:,}" if hit.size else "not reached"
        print(f"| {Path(name).name} | {row['env_steps']:,} | {row['final']:.3f} | {row['best']:.3f} | {first} |")
    finals = np.array([r["final"] for r in table])
    return {"out": cfg.out, "metric": cfg.metric, "final_mean": float(finals.mean()), "final_std": float(finals.std()), "runs": table}


if __name__ == "__main__":
    run(PlotConfig, plot, __doc__)
