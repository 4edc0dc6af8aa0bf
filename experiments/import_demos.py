"""Import demonstrations from the reference PyTorch tutorial's ``expert_data.npy`` into jirl's .npz format.

    python experiments/import_demos.py --src expert_data.npy --out demos.npz --import-pickled-npy

The tutorial's file is a *pickled* dict of ``states`` and ``actions``. Loading it runs pickle, which can
execute arbitrary code, so this script refuses unless --import-pickled-npy is given: only do that for
files you trust. The tutorial records no rewards or episode ends: episodes are taken as consecutive blocks
of --episode-length steps and rewards are stored as zeros (metadata: rewards_known=false).
"""

from __future__ import annotations

import dataclasses
import os

from jirl.cli import run
from jirl.loops.common import UserError


@dataclasses.dataclass(frozen=True)
class ImportConfig:
    src: str
    """The tutorial's expert_data.npy."""
    out: str
    """Output .npz (written atomically; an existing file is only replaced with --overwrite)."""
    import_pickled_npy: bool = False
    """Required opt-in: allow unpickling --src (runs pickle; only for files you trust)."""
    env: str = "HalfCheetah-v5"
    """Env the demonstrations belong to (for its action bounds and the metadata)."""
    episode_length: int = 1000
    """Steps per episode in --src."""
    overwrite: bool = False
    """Replace --out if it exists."""


def main(cfg: ImportConfig) -> dict:
    from jirl.data import DemoError, import_pickled_npy, save_demonstrations
    from jirl.envs.gym_bridge import VecEnv

    if not cfg.import_pickled_npy:
        raise UserError(f"{cfg.src} would be unpickled, which can run arbitrary code; pass --import-pickled-npy if you trust it")
    if not cfg.out.endswith(".npz"):
        raise UserError(f"--out must end with .npz, got {cfg.out}")
    if os.path.exists(cfg.out) and not cfg.overwrite:
        raise UserError(f"{cfg.out} exists; pass --overwrite to replace it")
    if not os.path.exists(cfg.src):
        raise UserError(f"{cfg.src} does not exist")
    try:
        env = VecEnv(cfg.env, 1)
    except ValueError as e:
        raise UserError(str(e)) from None
    try:
        demos = import_pickled_npy(cfg.src, cfg.env, env.action_low, env.action_high, cfg.episode_length)
        if demos.observations.shape[1] != env.obs_dim or demos.actions.shape[1] != env.action_dim:
            raise DemoError(f"{cfg.src}: states/actions are {demos.observations.shape[1]}/{demos.actions.shape[1]}-dimensional, "
                            f"{cfg.env} needs {env.obs_dim}/{env.action_dim}")
        save_demonstrations(cfg.out, demos)
    except DemoError as e:
        raise UserError(str(e)) from None
    return {"episodes": demos.num_episodes, "transitions": demos.num_transitions, "out": cfg.out}


if __name__ == "__main__":
    run(ImportConfig, main, __doc__)
