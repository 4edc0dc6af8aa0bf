"""Speed benchmark: SAC env steps/s through the real training loop (one jitted update per env step).

    python experiments/benchmark.py                      # SAC, HalfCheetah-v5, 256x256, batch 256, UTD 1
    python experiments/benchmark.py --measure-steps 2000 --no-record   # quick look, nothing written

It trains with the shipped-expert settings, skips the random-action warm-up and the first --warmup-steps of
learning (compilation), then measures --measure-steps env steps (env stepping, replay, one SAC update and
one action per step, all included). The figure is appended to BENCHMARKS.md with the date, the machine
and this command unless --no-record is given. Last stdout line: a JSON summary.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import sys
import tempfile
from pathlib import Path

from jirl.algorithms.sac import SACConfig
from jirl.cli import run
from jirl.loops.common import UserError, machine_description


@dataclasses.dataclass(frozen=True)
class BenchmarkConfig:
    """Measure SAC env steps/s at 1 update per env step (peers: SB3 2.9.2 = 122, sbx 0.28 = 186 on 2 CPU cores)."""

    env_id: str = "HalfCheetah-v5"
    """Gymnasium env id."""
    learning_starts: int = 1_000
    """Random-action steps before learning (not measured)."""
    warmup_steps: int = 3_000
    """Learning steps run before measuring (compilation, caches)."""
    measure_steps: int = 10_000
    """Learning steps measured."""
    seed: int = 0
    """Seed of the run."""
    record: bool = True
    """Append the result to BENCHMARKS.md."""
    out: str = "BENCHMARKS.md"
    """Markdown file the result is appended to."""
    sac: SACConfig = SACConfig()


def benchmark(cfg: BenchmarkConfig) -> dict:
    from jirl.loops.sac import SACTrainConfig, train

    if cfg.measure_steps < 1000 or cfg.measure_steps % 1000:
        raise UserError("--measure-steps must be a positive multiple of 1000")
    with tempfile.TemporaryDirectory() as tmp:
        tcfg = SACTrainConfig(
            env_id=cfg.env_id,
            seed=cfg.seed,
            total_steps=cfg.learning_starts + cfg.warmup_steps + cfg.measure_steps,
            learning_starts=cfg.learning_starts,
            eval_every=0,
            eval_episodes=1,
            log_every=1000,
            checkpoint_every=0,
            run_dir=str(Path(tmp) / "run"),
            sac=cfg.sac,
        )
        train(tcfg)
        rows = [json.loads(line) for line in (Path(tmp) / "run" / "metrics.jsonl").read_text().splitlines()]
    start = cfg.learning_starts + cfg.warmup_steps
    measured = [r for r in rows if r["env_steps"] > start]
    seconds = sum(1000.0 / r["steps_per_s"] for r in measured)
    sps = 1000.0 * len(measured) / seconds
    summary = {
        "algo": "sac",
        "env_id": cfg.env_id,
        "env_steps_per_s": round(sps, 1),
        "measured_steps": 1000 * len(measured),
        "hidden": list(cfg.sac.hidden),
        "batch_size": cfg.sac.batch_size,
        "updates_per_step": 1,
        "vs_sbx_186": round(sps / 186.0, 2),
        "vs_sb3_122": round(sps / 122.0, 2),
        "machine": machine_description(),
    }
    if cfg.record:
        path = Path(cfg.out)
        if not path.exists():
            path.write_text("# Benchmarks\n\n")
        cmd = "python experiments/benchmark.py " + " ".join(sys.argv[1:])
        line = (
            f"| {datetime.date.today().isoformat()} | {summary['machine']} | SAC {cfg.env_id}, "
            f"{'x'.join(map(str, cfg.sac.hidden))}, batch {cfg.sac.batch_size}, 1 update/step | "
            f"**{sps:.0f}** env steps/s ({summary['vs_sbx_186']}x sbx's 186, {summary['vs_sb3_122']}x SB3's 122) | `{cmd.strip()}` |\n"
        )
        with open(path, "a") as f:
            f.write(line)
    return summary


if __name__ == "__main__":
    run(BenchmarkConfig, benchmark, __doc__)
