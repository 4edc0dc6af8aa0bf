"""Environments: the NumPy <-> JAX bridge to Gymnasium, observation normalization, (later) tabular MDPs."""

from jirl.envs.gym_bridge import StepResult, VecEnv, quiet_mujoco_warnings, run_episodes
from jirl.envs.normalize import RunningNorm, norm_apply, norm_init, norm_update

__all__ = [
    "RunningNorm",
    "StepResult",
    "VecEnv",
    "norm_apply",
    "norm_init",
    "norm_update",
    "quiet_mujoco_warnings",
    "run_episodes",
]
