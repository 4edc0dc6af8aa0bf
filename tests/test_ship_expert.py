"""ship_expert.py records the command that trained the shipped expert: it must parse back to the same config."""

import dataclasses
import importlib.util
import shlex
import sys
from pathlib import Path

import tyro

from jirl.algorithms.sac import SACConfig
from jirl.loops.common import config_to_dict
from jirl.loops.sac import SACTrainConfig


def _ship_module():
    path = Path(__file__).resolve().parents[1] / "experiments" / "ship_expert.py"
    spec = importlib.util.spec_from_file_location("ship_expert", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["ship_expert"] = mod  # its dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(mod)
    return mod


def test_train_command_round_trips_through_the_cli():
    ship = _ship_module()
    cfg = SACTrainConfig(
        env_id="Pendulum-v1",
        total_steps=20_000,
        normalize_obs=True,
        run_dir="runs/x",
        sac=dataclasses.replace(SACConfig(), hidden=(64, 64), backup_entropy=False),
    )
    cmd = ship.train_command(config_to_dict(cfg))
    assert cmd.startswith("python experiments/sac.py ")
    assert "--env-id Pendulum-v1" in cmd and "--sac.hidden 64 64" in cmd and "--sac.no-backup-entropy" in cmd
    assert "--seed" not in cmd  # defaults are left out
    parsed = tyro.cli(SACTrainConfig, args=shlex.split(cmd)[2:])
    assert config_to_dict(parsed) == config_to_dict(cfg)
    assert ship.train_command(config_to_dict(SACTrainConfig())) == "python experiments/sac.py"
