import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"

os.environ.setdefault("JIRL_NO_PROGRESS", "1")  # no progress bars in test logs


def _compilation_cache_for_this_process() -> None:
    """A persistent XLA compilation cache for the test session and the experiment scripts it runs.

    Most of the suite's time is compilation, and many tests run the same program more than once (a script and
    its ``--resume``, separate seeds compared with a vmapped run, a run and the error cases after it). One fresh
    folder per session, made by the first pytest process (xdist workers and the scripts inherit it through the
    environment) and removed when that process exits. Entries are compressed, so a torn read (two workers on
    one program at the same moment) fails to decompress and JAX just compiles again. Set
    ``JAX_COMPILATION_CACHE_DIR`` to use your own folder."""
    if "JAX_COMPILATION_CACHE_DIR" in os.environ:
        return
    folder = tempfile.mkdtemp(prefix="jirl-test-xla-cache-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.environ["JAX_COMPILATION_CACHE_DIR"] = folder
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")


_compilation_cache_for_this_process()  # before any test module imports jax


@pytest.fixture(scope="session")
def pendulum_demos(tmp_path_factory):
    """Demonstrations of an 'expert' that always applies +0.8 of Pendulum's max torque: easy to tell from a
    fresh Gaussian policy (used by the GAIL and AIRL loop tests)."""
    from jirl.data import from_trajectories, save_demonstrations
    from jirl.envs import VecEnv, run_episodes

    env = VecEnv("Pendulum-v1", num_envs=2, seed=0)
    _, _, trajs = run_episodes(env, lambda o: np.full((o.shape[0], 1), 0.8), 4, seed=0, record=True)
    demos = from_trajectories(trajs, "Pendulum-v1", env.action_low, env.action_high, made_by={"test": "constant"})
    return save_demonstrations(tmp_path_factory.mktemp("demos") / "pendulum.npz", demos)


@pytest.fixture(scope="session")
def run_script():
    """``run_script("bc.py", *args, timeout=600)`` runs ``experiments/bc.py`` in a subprocess (no progress bars)
    and returns the ``CompletedProcess`` with text stdout/stderr."""

    def run(name: str, *args, timeout: float = 600) -> subprocess.CompletedProcess:
        cmd = [sys.executable, str(EXPERIMENTS / name), *map(str, args)]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=dict(os.environ, JIRL_NO_PROGRESS="1"))

    return run
