"""Package a trained SAC run as the shipped expert of an env: policy, demonstrations, reference return.

    python experiments/sac.py --run-dir runs/expert-halfcheetah --checkpoint-every 25000   # ~2 h on 2 CPU cores
    python experiments/ship_expert.py --run-dir runs/expert-halfcheetah

Copies <run-dir>/policy.msgpack and curve.png to jirl/experts/<env>/, evaluates the policy deterministically
(--eval-episodes episodes, seed 0) and records that as the env's expert reference return, then rolls it out
for --episodes whole episodes (seeds 1000, 1001, ...: not the evaluation seeds) into demos.npz and writes
info.json (training steps, wall time, machine, evaluation). Last stdout line: a JSON summary.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import shutil
import sys
from pathlib import Path

from jirl.cli import run
from jirl.fileio import atomic_write_bytes
from jirl.loops.common import CHECKPOINT_NAME, UserError, machine_description
from jirl.loops.rollout import CollectConfig, EvaluateConfig, collect, evaluate
from jirl.references import EXPERTS_DIR


@dataclasses.dataclass(frozen=True)
class ShipConfig:
    run_dir: str
    """A finished experiments/sac.py run (holds policy.msgpack and checkpoint.msgpack)."""
    episodes: int = 25
    """Demonstration episodes to record."""
    eval_episodes: int = 10
    """Evaluation episodes for the expert reference return."""
    min_return: float = 9000.0
    """Refuse to ship a policy whose mean evaluation return is below this."""


def train_command(train_cfg: dict) -> str:
    """The experiments/sac.py command line of a run: the options whose values differ from the defaults."""
    from jirl.loops.common import config_to_dict
    from jirl.loops.sac import SACTrainConfig

    default = config_to_dict(SACTrainConfig())
    args = ["python", "experiments/sac.py"]
    for name, value in train_cfg.items():
        pairs = (
            [(f"{name}.{k}", v, default.get(name, {}).get(k)) for k, v in value.items()]
            if isinstance(value, dict)
            else [(name, value, default.get(name))]
        )
        for flag, v, d in pairs:
            if v == d or flag == "resume":
                continue
            prefix, _, leaf = flag.rpartition(".")
            prefix = prefix.replace("_", "-") + "." if prefix else ""
            leaf = leaf.replace("_", "-")
            if isinstance(v, bool):
                args.append(f"--{prefix}{leaf}" if v else f"--{prefix}no-{leaf}")
                continue
            values = [str(x) for x in v] if isinstance(v, list) else [str(v)]
            args += [f"--{prefix}{leaf}", *values]
    return shlex.join(args)


def ship(cfg: ShipConfig) -> dict:
    run_dir = Path(cfg.run_dir)
    policy_src = run_dir / "policy.msgpack"
    if not policy_src.exists():
        raise UserError(f"{policy_src} does not exist: finish the run first (experiments/sac.py --run-dir {run_dir} --resume)")
    from flax import serialization

    meta = json.loads(serialization.msgpack_restore((run_dir / CHECKPOINT_NAME).read_bytes())["meta"])
    train_cfg = json.loads((run_dir / "config.json").read_text())
    env_id = train_cfg["env_id"]
    out = EXPERTS_DIR / env_id
    out.mkdir(parents=True, exist_ok=True)
    ev = evaluate(EvaluateConfig(policy=str(policy_src), env=env_id, episodes=cfg.eval_episodes, seed=0))
    if ev["mean_return"] < cfg.min_return:
        raise UserError(f"mean evaluation return {ev['mean_return']:.0f} < --min-return {cfg.min_return:.0f}; not shipping")
    shutil.copyfile(policy_src, out / "policy.msgpack")
    if (run_dir / "curve.png").exists():
        shutil.copyfile(run_dir / "curve.png", out / "training_curve.png")
    ev = evaluate(EvaluateConfig(policy=str(out / "policy.msgpack"), env=env_id, episodes=cfg.eval_episodes, seed=0, save_reference="expert"))
    demos = collect(
        CollectConfig(policy=str(out / "policy.msgpack"), out=str(out / "demos.npz"), env=env_id, episodes=cfg.episodes, seed=1000, overwrite=True)
    )
    info = {
        "env_id": env_id,
        "algorithm": "SAC (jirl)",
        "train_command": train_command(train_cfg),
        "train_env_steps": meta["step"],
        "train_wall_s": round(meta["wall_s"], 1),
        "train_config": train_cfg,
        "evaluation": ev,
        "demonstrations": demos,
        "ship_command": shlex.join(["python", "experiments/ship_expert.py", *sys.argv[1:]]),
        "machine": machine_description(),
    }
    atomic_write_bytes(out / "info.json", (json.dumps(info, indent=2) + "\n").encode())
    return {
        "env_id": env_id,
        "expert_mean_return": ev["mean_return"],
        "expert_std_return": ev["std_return"],
        "demo_mean_return": demos["mean_return"],
        "demo_episodes": demos["episodes"],
        "demo_bytes": demos["bytes"],
        "train_env_steps": meta["step"],
        "train_wall_s": round(meta["wall_s"], 1),
        "out": str(out),
    }


if __name__ == "__main__":
    run(ShipConfig, ship, __doc__)
