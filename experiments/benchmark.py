"""Speed benchmarks: env steps/s of SAC, PPO and GAIL through the real training loops.

    python experiments/benchmark.py                          # SAC, HalfCheetah-v5, 256x256, batch 256, UTD 1
    python experiments/benchmark.py --algo ppo               # PPO, 2048 steps/rollout (8 envs x 256), 10 epochs, batch 64
    python experiments/benchmark.py --algo gail              # GAIL with that PPO learner, 64x64 discriminator
    python experiments/benchmark.py --algo ppo --num-envs 1  # one env x 2048 steps, as SB3's default
    python experiments/benchmark.py --algo gail --preset default   # what `python experiments/gail.py` runs
    python experiments/benchmark.py --measure-steps 2000 --no-record   # quick look, nothing written
    python experiments/benchmark.py --algo ppo --num-seeds 4 # 4 vmapped seeds in one program (env steps/s of all 4)
    python experiments/benchmark.py --algo gail --backend mjx --num-envs 65536 --rollout-steps 8 --minibatch-size 65536 --epochs 4
                                                             # on a GPU: whole rounds on the device (MJX twin)

SAC: after --learning-starts random-action steps and --warmup-steps learning steps (compilation), measures
--measure-steps env steps (env stepping, replay, one SAC update and one action per step, all included; wall-clock
time between the logged rows, as the peers' windows).
PPO/GAIL: the policy and value nets are 64x64 tanh (the peers' default), a rollout is 2048 env steps (
--num-envs x 2048/--num-envs), 10 epochs of minibatches of 64; the first --warmup-steps are not measured, then
--measure-steps env steps of collection plus updates (GAIL: discriminator steps and relabelling too; the peer
preset's discriminator has no gradient penalty, as imitation's GAIL);
evaluation is off. --backend mjx steps jirl's pure-JAX twin of HalfCheetah-v5 instead (pip install -e
".[mjx]"), so that a round (rollout, discriminator, update) is one compiled call on the device; --rollout-steps,
--minibatch-size and --epochs then set the round's shape (the 2048-step rollout is a CPU-bridge setting).
--preset default measures the scripts' own defaults instead (experiments/ppo.py,
experiments/gail.py: for GAIL 256x256 nets, minibatch 256, the behaviour-cloning term). The figure is appended to its table in BENCHMARKS.md with the date, the machine and this
command unless --no-record is given. Last stdout line: a JSON summary; for PPO/GAIL through the bridge it also
gives collect_ms_per_round and update_ms_per_round (median ms per round in acting + env stepping, and in the rest:
the jitted update, its transfers and logging).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import sys
import tempfile
from pathlib import Path
from typing import Literal

from jirl.algorithms.sac import SACConfig
from jirl.cli import run
from jirl.fileio import append_markdown_rows
from jirl.loops.common import UserError, machine_description

# Peers on a 2-core x86-64 CPU like CI's, same settings (shared/DESIGN.md and the issues).
PEERS = {
    "sac": {"sbx 0.28": 186.0, "SB3 2.9.2": 122.0},
    "ppo": {"SB3 2.9.2": 1683.0},
    "gail": {"imitation 1.0.1": 1058.0},
}
SECTIONS = {
    "sac": (
        "## SAC, HalfCheetah-v5, 256x256 actor and twin critics, batch 256, 1 update per env step",
        "Measured through the real training loop (env step, replay write, one SAC update, next action), after\n"
        "1,000 random-action steps and 3,000 warm-up learning steps.",
    ),
    "ppo": (
        "## PPO, HalfCheetah-v5, 64x64 tanh, 2048 env steps per rollout, 10 epochs, minibatch 64",
        "Measured through the real training loop (acting, env stepping, then one jitted call per rollout for\n"
        "GAE and all 320 gradient steps), evaluation off, after 3 warm-up rollouts. Peer: SB3 2.9.2 = 1,683.",
    ),
    "gail": (
        "## GAIL (PPO learner as above), HalfCheetah-v5, 4 demonstrations, 64x64 discriminator",
        "As the PPO row plus, per rollout, 8 discriminator steps (batch 256; gradient penalty until 2026-12-08, none since, as\n"
        "imitation's) and the reward relabelling, in the\n"
        "same jitted call. Peer: imitation 1.0.1 GAIL with an SB3 PPO learner = 1,058.",
    ),
}


@dataclasses.dataclass(frozen=True)
class BenchmarkConfig:
    """Measure env steps/s of SAC (1 update per step), PPO or GAIL through jirl's training loops."""

    algo: Literal["sac", "ppo", "gail"] = "sac"
    """Which loop to measure."""
    env_id: str = "HalfCheetah-v5"
    """Gymnasium env id (gail: must have shipped demonstrations)."""
    num_envs: int = 8
    """ppo/gail: parallel envs; each collects 2048/num_envs steps per rollout (sac: always 1 env)."""
    env_workers: int | None = None
    """ppo/gail: worker processes collecting the rollouts, each running its envs' whole rollout (0: in the main
    process; default: as the training scripts, 2 with >= 8 envs on >= 2 cores, else 0)."""
    backend: Literal["gym", "mjx"] = "gym"
    """ppo/gail: gym = Gymnasium envs through the NumPy bridge; mjx = the pure-JAX twin (needs ".[mjx]"; for GPUs)."""
    rollout_steps: int | None = None
    """ppo/gail: steps per env per rollout (default 2048 // num_envs, i.e. 2048-step rollouts)."""
    minibatch_size: int | None = None
    """ppo/gail: PPO minibatch size (default: the preset's, 64 for peer)."""
    epochs: int | None = None
    """ppo/gail: PPO epochs per rollout (default: the preset's, 10)."""
    preset: Literal["peer", "default"] = "peer"
    """ppo/gail: peer = the peers' settings (64x64, minibatch 64, no BC term); default = the script's defaults."""
    learning_starts: int = 1_000
    """sac: random-action steps before learning (not measured)."""
    warmup_steps: int | None = None
    """Env steps run before measuring (compilation, caches); default 3,000 for sac (at least 1,000: the first
    1,000 learning steps are one compiled call that includes its compilation), 3 rollouts for ppo/gail."""
    measure_steps: int | None = None
    """Env steps measured (per seed); default 10,000 for sac, 100 rollouts for ppo/gail (204,800 steps with 2048-step rollouts)."""
    seed: int = 0
    """Seed of the run."""
    num_seeds: int = 1
    """Train this many seeds in one program (vmapped; K x the envs); the figure counts the env steps of all seeds."""
    record: bool = True
    """Append the result to BENCHMARKS.md."""
    out: str = "BENCHMARKS.md"
    """Markdown file the result is appended to."""
    sac: SACConfig = SACConfig()


GPU_SECTION = (
    "## On a GPU: SAC, PPO and GAIL through the training loops (experiments/benchmark.py)",
    "Rows measured on a GPU machine, any algorithm; the setting says which, and whether the envs are Gymnasium's\n"
    "(through the NumPy bridge, on the host's CPU cores) or the MJX twin (on the device). The peers' figures are\n"
    "2-core CPU figures, so no ratio is given here.",
)


def append_row(path: Path, algo: str, row: str, gpu: bool = False) -> None:
    """Add ``row`` to the table of ``algo``'s section (or the GPU section), creating the file or the section when missing."""
    title, text = GPU_SECTION if gpu else SECTIONS[algo]
    append_markdown_rows(path, title, text, [row])


def _measure_rows(run_dir: Path, start: int, seed: int, num_seeds: int) -> tuple[float, int]:
    """Env steps/s (of all seeds together) and steps measured (per seed) after env step ``start``: wall-clock time
    from the first logged row at or after ``start`` to the last row (the rows' ``time`` stamps), the same kind of
    window as the peers' (per-round logging included)."""
    metrics = run_dir / ("metrics.jsonl" if num_seeds == 1 else f"seed-{seed}/metrics.jsonl")
    rows = [json.loads(line) for line in metrics.read_text().splitlines()]
    rows = [r for r in rows if "steps_per_s" in r and r["env_steps"] >= start]
    if len(rows) < 2:
        raise UserError(f"fewer than two timer rows from env step {start:,} on in {metrics}; fix: raise --measure-steps")
    steps = rows[-1]["env_steps"] - rows[0]["env_steps"]
    seconds = rows[-1]["time"] - rows[0]["time"]
    return num_seeds * steps / seconds, steps


def _round_split(run_dir: Path, start: int, seed: int, num_seeds: int) -> dict:
    """PPO/GAIL through the bridge: median milliseconds per round spent collecting (acting + env stepping) and in
    the rest (the jitted update, its transfers and logging), over the rounds after env step ``start``."""
    metrics = run_dir / ("metrics.jsonl" if num_seeds == 1 else f"seed-{seed}/metrics.jsonl")
    rows = [json.loads(line) for line in metrics.read_text().splitlines()]
    rows = [r for r in rows if "collect_s" in r and r["env_steps"] > start]
    if not rows:
        return {}
    median = lambda xs: sorted(xs)[len(xs) // 2]
    return {"collect_ms_per_round": round(1e3 * median([r["collect_s"] for r in rows]), 1),
            "update_ms_per_round": round(1e3 * median([r["update_s"] for r in rows]), 1)}


def benchmark(cfg: BenchmarkConfig) -> dict:
    if cfg.algo == "sac" and cfg.backend != "gym":
        raise UserError("--backend mjx is for --algo ppo or gail (SAC steps one Gymnasium env)")
    if cfg.algo == "sac":
        warmup = 3_000 if cfg.warmup_steps is None else cfg.warmup_steps
        measure = 10_000 if cfg.measure_steps is None else cfg.measure_steps
        if measure < 1000 or measure % 1000 or warmup < 1000:
            raise UserError("--measure-steps must be a positive multiple of 1000 and --warmup-steps >= 1000 (the first 1,000 learning steps include compilation)")
    else:
        if cfg.num_envs < 1 or (cfg.rollout_steps is None and 2048 % cfg.num_envs):
            raise UserError("--num-envs must divide 2048 (e.g. 1, 2, 4, 8, 16, 32), or give --rollout-steps")
        for name in ("rollout_steps", "minibatch_size", "epochs"):
            if getattr(cfg, name) is not None and getattr(cfg, name) < 1:
                raise UserError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(cfg, name)}")
        T = cfg.rollout_steps or 2048 // cfg.num_envs
        per_rollout = cfg.num_envs * T
        warmup = 3 * per_rollout if cfg.warmup_steps is None else cfg.warmup_steps
        measure = 100 * per_rollout if cfg.measure_steps is None else cfg.measure_steps
        if measure < per_rollout or warmup < 0:
            raise UserError(f"--measure-steps must be >= {per_rollout:,} (one rollout) and --warmup-steps >= 0")
    split = {}
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        if cfg.algo == "sac":
            from jirl.loops.sac import SACTrainConfig
            from jirl.loops.sac import train as sac_train

            sac_train(SACTrainConfig(
                env_id=cfg.env_id, seed=cfg.seed, num_seeds=cfg.num_seeds, total_steps=cfg.learning_starts + warmup + measure, learning_starts=cfg.learning_starts,
                eval_every=0, eval_episodes=1, log_every=1000, checkpoint_every=0, run_dir=str(run_dir), sac=cfg.sac,
            ))
            sps, steps = _measure_rows(run_dir, cfg.learning_starts + warmup, cfg.seed, cfg.num_seeds)
            setting = f"SAC {cfg.env_id}, {'x'.join(map(str, cfg.sac.hidden))}, batch {cfg.sac.batch_size}, 1 update/step"
        else:
            from jirl.algorithms.gail import DiscriminatorConfig
            from jirl.algorithms.ppo import PPOConfig

            from jirl.loops.gail import GAILTrainConfig
            from jirl.loops.gail import train as gail_train
            from jirl.loops.ppo import PPOTrainConfig
            from jirl.loops.ppo import train as ppo_train

            config_type = PPOTrainConfig if cfg.algo == "ppo" else GAILTrainConfig
            pcfg = config_type().ppo if cfg.preset == "default" else PPOConfig(hidden=(64, 64), epochs=10, minibatch_size=64)
            pcfg = dataclasses.replace(pcfg, num_steps=T, minibatch_size=cfg.minibatch_size or pcfg.minibatch_size, epochs=cfg.epochs or pcfg.epochs)
            from jirl.loops.ppo import resolve_env_workers

            workers = 0 if cfg.backend == "mjx" else resolve_env_workers(cfg.env_workers, cfg.num_envs * cfg.num_seeds)
            common = dict(env_id=cfg.env_id, seed=cfg.seed, num_seeds=cfg.num_seeds, total_steps=warmup + measure, num_envs=cfg.num_envs, env_workers=workers,
                          backend=cfg.backend, eval_every=0, eval_episodes=1, checkpoint_every=0, run_dir=str(run_dir), ppo=pcfg)
            if cfg.algo == "ppo":
                ppo_train(PPOTrainConfig(**common))
            elif cfg.preset == "default":
                gail_train(GAILTrainConfig(**common))
            else:
                # imitation's GAIL: no behaviour cloning, no critic warm-up, and no gradient penalty on the discriminator
                gail_train(GAILTrainConfig(**common, bc_init=False, critic_warmup_rounds=0, bc_coef=0.0, disc=DiscriminatorConfig(grad_penalty=0.0)))
            sps, steps = _measure_rows(run_dir, warmup, cfg.seed, cfg.num_seeds)
            split = _round_split(run_dir, warmup, cfg.seed, cfg.num_seeds)
            hidden = "x".join(map(str, pcfg.hidden))
            setting = (f"{cfg.algo.upper()} {cfg.env_id}" + (" MJX twin" if cfg.backend == "mjx" else "")
                       + f", {hidden}, {cfg.num_envs} env{'s' if cfg.num_envs > 1 else ''} x {T} steps, "
                       f"{pcfg.epochs} epochs, minibatch {pcfg.minibatch_size}" + (f", {workers} env workers" if workers else "")
                       + (" (script defaults)" if cfg.preset == "default" else ""))
    if cfg.num_seeds > 1:
        setting += f", {cfg.num_seeds} vmapped seeds (steps/s of all seeds)"
    ratios = {f"vs {name} {fig:g}": round(sps / fig, 2) for name, fig in PEERS[cfg.algo].items()}
    summary = {"algo": cfg.algo, "env_id": cfg.env_id, "num_seeds": cfg.num_seeds, "env_steps_per_s": round(sps, 1), "measured_steps": steps, "setting": setting,
               **ratios, **split, "machine": machine_description()}
    if cfg.record:
        gpu = summary["machine"].startswith("GPU")  # as machine_description() names a GPU machine
        cmd = ("python experiments/benchmark.py " + " ".join(sys.argv[1:])).strip()
        peers = ", ".join(f"{r}x {name.split(' ')[0]}'s {PEERS[cfg.algo][name]:,.0f}" for name, r in zip(PEERS[cfg.algo], ratios.values(), strict=True))
        row = f"| {datetime.date.today().isoformat()} | {summary['machine']} | {setting} | **{sps:,.0f}** env steps/s" + ("" if gpu else f" ({peers})") + f" | `{cmd}` |\n"
        append_row(Path(cfg.out), cfg.algo, row, gpu)
    return summary


if __name__ == "__main__":
    run(BenchmarkConfig, benchmark, __doc__)
