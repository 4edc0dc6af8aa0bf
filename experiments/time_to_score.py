"""When did a run first reach a normalized score? Env steps and wall-clock seconds, per seed, from eval.jsonl.

    python experiments/time_to_score.py runs/gail-HalfCheetah-v5-s0-x3 --score 0.9
    python experiments/time_to_score.py RUN_DIR --start 1795000000.5  # seconds counted from this Unix time

RUN_DIR is a run folder of gail.py, ppo.py, sac.py, ... (one seed, or several with seed-<S>/ folders). Each
evaluation row records its Unix time; seconds are counted from --start (e.g. the shell's ``date +%s.%N`` taken
just before the training command, so that start-up, compilation and evaluations count too), by default from
when the run wrote its config.json (after start-up, before compilation). Last stdout line: a JSON summary with,
per seed, the first evaluation at or above --score (None when never), the best and the last evaluation.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import tyro

from jirl.cli import run
from jirl.loops.common import UserError


@dataclasses.dataclass(frozen=True)
class TimeToScoreConfig:
    """First evaluation of each seed at or above a normalized score: env steps and wall seconds."""

    run_dir: tyro.conf.Positional[str]
    """Run folder of a training command."""
    score: float = 0.9
    """Normalized score to reach."""
    start: float | None = None
    """Unix time to count seconds from (default: the modification time of the run's config.json)."""


def seed_dirs(run_dir: Path) -> list[Path]:
    """The folders holding eval.jsonl: run_dir/seed-<S> for a several-seed run, else run_dir itself."""
    dirs = sorted(run_dir.glob("seed-*"), key=lambda d: int(d.name.split("-", 1)[1]))
    return dirs or [run_dir]


def time_to_score(cfg: TimeToScoreConfig) -> dict:
    run_dir = Path(cfg.run_dir)
    if not cfg.run_dir or not run_dir.is_dir():
        raise UserError(f"no run folder at {cfg.run_dir!r}; pass the folder a training command wrote (--run-dir)")
    start = cfg.start
    if start is None:
        config = run_dir / "config.json"
        if not config.exists():
            raise UserError(f"{config} is missing; pass --start UNIX_TIME")
        start = config.stat().st_mtime
    per_seed = {}
    for d in seed_dirs(run_dir):
        path = d / "eval.jsonl"
        rows = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
        rows = [r for r in rows if "normalized_score" in r]
        if not rows:
            raise UserError(f"{path} has no evaluations with a normalized score (an env without expert/random references?)")
        if any("time" not in r for r in rows):
            raise UserError(f"{path} was written by an older jirl without evaluation times; rerun the training")
        hit = next((r for r in rows if r["normalized_score"] >= cfg.score), None)
        best = max(rows, key=lambda r: r["normalized_score"])
        fmt = lambda r: {"env_steps": r["env_steps"], "normalized_score": round(r["normalized_score"], 4), "wall_s": round(r["time"] - start, 1)}
        per_seed[d.name] = {"first_at_score": None if hit is None else fmt(hit), "best": fmt(best), "last": fmt(rows[-1])}
        print(f"{d.name}: " + (f"{cfg.score} first at {hit['env_steps']:,} env steps, {hit['time'] - start:,.1f} s" if hit else f"never {cfg.score}")
              + f"; best {best['normalized_score']:.3f}; last {rows[-1]['normalized_score']:.3f} at {rows[-1]['env_steps']:,} steps", flush=True)
    reached = [v["first_at_score"] for v in per_seed.values() if v["first_at_score"]]
    return {"score": cfg.score, "seeds_reached": len(reached), "seeds": len(per_seed),
            "max_wall_s_to_score": max((r["wall_s"] for r in reached), default=None), "per_seed": per_seed}


if __name__ == "__main__":
    run(TimeToScoreConfig, time_to_score, __doc__)
