"""Demonstrations: the on-disk schema, saving, loading with full validation, and import of other formats.

A demonstrations file is a NumPy ``.npz`` (read with ``allow_pickle=False``, always) holding ``T`` transitions
from ``E`` whole or partial episodes laid end to end:

================== =================== =========================================================================
key                shape / dtype       meaning
================== =================== =========================================================================
observations       [T, obs_dim] f32    observation the action was taken in
actions            [T, act_dim] f32    action sent to the env, in the env's own units (within its bounds)
rewards            [T] f32             env reward
next_observations  [T, obs_dim] f32    true next observation (the final observation at a truncation)
terminated         [T] bool            true terminal state (cuts the bootstrap)
truncated          [T] bool            time-limit end of the episode
episode_starts     [E] int64           index of the first transition of each episode (0, ..., increasing)
metadata           0-d unicode (JSON)  env_id, obs/action shapes and bounds, package versions, return statistics,
                                       how it was made
================== =================== =========================================================================

Every episode but possibly the last ends with ``terminated or truncated``; nothing else may be flagged.
:func:`load_demonstrations` checks all of this, plus finiteness and agreement with the env's spaces, and raises
:class:`DemoError` with a one-line message on the first problem.
"""

from __future__ import annotations

import dataclasses
import datetime
import io
import json
import os
import warnings
import zipfile
from pathlib import Path

import numpy as np

from jirl.fileio import atomic_write_bytes

FORMAT = "jirl-demos-v1"
ARRAY_KEYS = ("observations", "actions", "rewards", "next_observations", "terminated", "truncated", "episode_starts")


class DemoError(ValueError):
    """A demonstrations file is missing, malformed, or does not fit the env. The message is one line."""


@dataclasses.dataclass(frozen=True)
class Demonstrations:
    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_observations: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    episode_starts: np.ndarray
    metadata: dict

    @property
    def num_transitions(self) -> int:
        return int(self.observations.shape[0])

    @property
    def num_episodes(self) -> int:
        return int(self.episode_starts.shape[0])

    @property
    def episode_lengths(self) -> np.ndarray:
        ends = np.append(self.episode_starts[1:], self.num_transitions)
        return ends - self.episode_starts

    @property
    def episode_returns(self) -> np.ndarray:
        return np.add.reduceat(self.rewards.astype(np.float64), self.episode_starts) if self.num_episodes else np.zeros(0)

    def select_episodes(self, n: int) -> Demonstrations:
        """The first ``n`` episodes (all of them if ``n`` is larger is an error: ask for what exists)."""
        if not 1 <= n <= self.num_episodes:
            raise DemoError(f"asked for {n} demonstration episodes but the file has {self.num_episodes}")
        end = self.num_transitions if n == self.num_episodes else int(self.episode_starts[n])
        meta = dict(self.metadata, num_episodes=n, selected_from=self.num_episodes)
        return Demonstrations(
            observations=self.observations[:end],
            actions=self.actions[:end],
            rewards=self.rewards[:end],
            next_observations=self.next_observations[:end],
            terminated=self.terminated[:end],
            truncated=self.truncated[:end],
            episode_starts=self.episode_starts[:n],
            metadata=meta,
        )

    def normalized_actions(self) -> np.ndarray:
        """Actions mapped from the env's bounds to ``[-1, 1]`` (the policies' action space)."""
        low = np.asarray(self.metadata["action_low"], np.float32)
        high = np.asarray(self.metadata["action_high"], np.float32)
        return np.clip(2.0 * (self.actions - low) / (high - low) - 1.0, -1.0, 1.0)


def package_versions() -> dict:
    from importlib import metadata as md

    out = {}
    for name in ("jirl", "jax", "flax", "gymnasium", "mujoco", "numpy"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = None
    return out


def return_stats(returns: np.ndarray) -> dict:
    returns = np.asarray(returns, np.float64)
    return {
        "mean": float(returns.mean()),
        "std": float(returns.std()),
        "min": float(returns.min()),
        "max": float(returns.max()),
    }


def from_trajectories(trajectories: list[dict], env_id: str, action_low, action_high, made_by: dict) -> Demonstrations:
    """Build demonstrations from per-episode dicts (keys obs, action, reward, next_obs, terminated, truncated),
    actions given in ``[-1, 1]`` and rescaled here to the env's bounds."""
    if not trajectories:
        raise DemoError("no episodes to save")
    low, high = np.asarray(action_low, np.float64), np.asarray(action_high, np.float64)
    cat = lambda k, dt: np.concatenate([np.asarray(t[k], dt) for t in trajectories])
    actions01 = np.clip(cat("action", np.float64), -1.0, 1.0)
    lengths = np.array([len(t["reward"]) for t in trajectories])
    rewards = cat("reward", np.float32)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    ep_returns = np.add.reduceat(rewards.astype(np.float64), starts)
    obs = cat("obs", np.float32)
    meta = {
        "format": FORMAT,
        "env_id": env_id,
        "obs_shape": list(obs.shape[1:]),
        "action_shape": list(actions01.shape[1:]),
        "action_low": low.tolist(),
        "action_high": high.tolist(),
        "num_episodes": len(trajectories),
        "num_transitions": int(lengths.sum()),
        "episode_returns": ep_returns.tolist(),
        "return_stats": return_stats(ep_returns),
        "package_versions": package_versions(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "made_by": made_by,
    }
    return Demonstrations(
        observations=obs,
        actions=(low + 0.5 * (actions01 + 1.0) * (high - low)).astype(np.float32),
        rewards=rewards,
        next_observations=cat("next_obs", np.float32),
        terminated=cat("terminated", bool),
        truncated=cat("truncated", bool),
        episode_starts=starts,
        metadata=meta,
    )


def save_demonstrations(path: str | os.PathLike, demos: Demonstrations) -> Path:
    """Validate, then write atomically (temp file + rename); a failed save leaves no partial file."""
    validate(demos, str(path))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {k: getattr(demos, k) for k in ARRAY_KEYS}
    arrays["metadata"] = np.array(json.dumps(demos.metadata))
    bio = io.BytesIO()
    np.savez_compressed(bio, **arrays)
    atomic_write_bytes(path, bio.getvalue())
    return path


def _fail(path: str, msg: str) -> DemoError:
    return DemoError(f"{path}: {msg}")


def load_demonstrations(
    path: str | os.PathLike,
    env_id: str | None = None,
    obs_dim: int | None = None,
    action_dim: int | None = None,
) -> Demonstrations:
    """Load and validate a demonstrations ``.npz``; optionally check it matches ``env_id`` and the spaces.

    Never unpickles. Raises :class:`DemoError` (one line) on any problem.
    """
    p = str(path)
    if not os.path.exists(p):
        raise _fail(p, "file does not exist")
    if os.path.isdir(p):
        raise _fail(p, "is a directory, expected a .npz demonstrations file")
    if p.endswith(".npy"):
        raise _fail(p, "is a .npy file; jirl demonstrations are .npz. To import the reference tutorial's pickled "
                    "expert_data.npy, use --import-pickled-npy (it runs pickle: only for files you trust)")
    with open(p, "rb") as f:
        magic = f.read(4)
    if magic != b"PK\x03\x04":
        raise _fail(p, "is not a .npz file (no zip header): save demonstrations with jirl.data.save_demonstrations "
                    "or experiments/collect.py")
    try:
        with np.load(p, allow_pickle=False) as z:
            files = set(z.files)
            missing = [k for k in ARRAY_KEYS + ("metadata",) if k not in files]
            if missing:
                raise _fail(p, f"missing arrays {missing}; expected {list(ARRAY_KEYS) + ['metadata']}")
            arrays = {k: z[k] for k in ARRAY_KEYS}
            meta_arr = z["metadata"]
    except DemoError:
        raise
    except ValueError as e:
        if "pickle" in str(e).lower() or "object" in str(e).lower():
            raise _fail(p, "contains pickled Python objects; jirl never unpickles demonstrations (save plain arrays)") from None
        raise _fail(p, f"is not a valid .npz file ({e})") from None
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise _fail(p, f"is not a readable .npz file (truncated or corrupt? {type(e).__name__}: {e})") from None
    if meta_arr.shape != () or meta_arr.dtype.kind != "U":
        raise _fail(p, "metadata must be a JSON string (0-d unicode array)")
    try:
        meta = json.loads(str(meta_arr))
    except json.JSONDecodeError as e:
        raise _fail(p, f"metadata is not valid JSON ({e.msg})") from None
    if not isinstance(meta, dict):
        raise _fail(p, "metadata must be a JSON object")
    demos = Demonstrations(**arrays, metadata=meta)
    validate(demos, p, env_id=env_id, obs_dim=obs_dim, action_dim=action_dim)
    return demos


def validate(demos: Demonstrations, where: str = "demonstrations", env_id=None, obs_dim=None, action_dim=None) -> None:
    """Check the schema documented at the top of this module; raise :class:`DemoError` on the first problem."""
    meta = demos.metadata
    if meta.get("format") != FORMAT:
        raise _fail(where, f"metadata format is {meta.get('format')!r}, expected {FORMAT!r}")
    for key in ("env_id", "obs_shape", "action_shape", "action_low", "action_high"):
        if key not in meta:
            raise _fail(where, f"metadata lacks {key!r}")
    obs, act = demos.observations, demos.actions
    expect = {
        "observations": (2, "f"),
        "actions": (2, "f"),
        "rewards": (1, "f"),
        "next_observations": (2, "f"),
        "terminated": (1, "b"),
        "truncated": (1, "b"),
        "episode_starts": (1, "i"),
    }
    for key, (ndim, kind) in expect.items():
        arr = getattr(demos, key)
        if arr.ndim != ndim:
            raise _fail(where, f"{key} has {arr.ndim} dimensions (shape {arr.shape}), expected {ndim}")
        if arr.dtype.kind != kind and not (kind == "i" and arr.dtype.kind == "u"):
            raise _fail(where, f"{key} has dtype {arr.dtype}, expected {'float' if kind == 'f' else 'bool' if kind == 'b' else 'integer'}")
    t = obs.shape[0]
    if t == 0:
        raise _fail(where, "holds no transitions")
    for key in ("actions", "rewards", "next_observations", "terminated", "truncated"):
        if getattr(demos, key).shape[0] != t:
            raise _fail(where, f"{key} has {getattr(demos, key).shape[0]} rows but observations has {t}")
    if demos.next_observations.shape[1:] != obs.shape[1:]:
        raise _fail(where, f"next_observations shape {demos.next_observations.shape} does not match observations {obs.shape}")
    if list(obs.shape[1:]) != list(meta["obs_shape"]) or list(act.shape[1:]) != list(meta["action_shape"]):
        raise _fail(where, "array shapes disagree with metadata obs_shape/action_shape")
    for key in ("observations", "actions", "rewards", "next_observations"):
        arr = getattr(demos, key)
        if not np.all(np.isfinite(arr)):
            bad = int(np.argwhere(~np.isfinite(arr))[0][0])
            raise _fail(where, f"{key} has non-finite values (first at row {bad})")
    low = np.asarray(meta["action_low"], np.float64)
    high = np.asarray(meta["action_high"], np.float64)
    if low.shape != act.shape[1:] or high.shape != act.shape[1:]:
        raise _fail(where, "metadata action_low/action_high do not match the action shape")
    tol = 1e-5 * np.maximum(1.0, high - low)
    if np.any(act < low - tol) or np.any(act > high + tol):
        raise _fail(where, f"actions fall outside the env's bounds [{low.min():g}, {high.max():g}]")
    starts = demos.episode_starts
    if starts.shape[0] == 0 or starts[0] != 0:
        raise _fail(where, "episode_starts must begin with 0")
    if np.any(np.diff(starts) <= 0) or starts[-1] >= t:
        raise _fail(where, "episode_starts must be strictly increasing indices below the number of transitions")
    ends = np.zeros(t, bool)
    ends[starts[1:] - 1] = True
    done = demos.terminated | demos.truncated
    if np.any(ends & ~done):
        raise _fail(where, "an episode ends (per episode_starts) without terminated or truncated set")
    interior = ~ends
    interior[-1] = False  # the last transition may end an episode or not (partial last episode)
    if np.any(done & interior):
        raise _fail(where, "terminated/truncated set in the middle of an episode (episode_starts disagree)")
    if np.any(demos.terminated & demos.truncated):
        raise _fail(where, "a transition is both terminated and truncated")
    if env_id is not None and meta["env_id"] != env_id:
        raise _fail(where, f"was recorded on {meta['env_id']}, not {env_id}")
    if obs_dim is not None and obs.shape[1] != obs_dim:
        raise _fail(where, f"observations are {obs.shape[1]}-dimensional, the env's are {obs_dim}")
    if action_dim is not None and act.shape[1] != action_dim:
        raise _fail(where, f"actions are {act.shape[1]}-dimensional, the env's are {action_dim}")


def import_pickled_npy(path: str | os.PathLike, env_id: str, action_low, action_high, episode_length: int = 1000) -> Demonstrations:
    """Import the reference PyTorch tutorial's ``expert_data.npy`` (a *pickled* dict of ``states``/``actions``).

    This runs pickle, which can execute arbitrary code: call it only for files you trust (the scripts expose
    it behind ``--import-pickled-npy``). The tutorial stores neither rewards nor episode ends, so episodes are
    taken as consecutive blocks of ``episode_length`` steps, ``next_observations`` are the following states,
    the last step of each block (which has no next state) is dropped, rewards are zero, and the metadata says
    ``rewards_known: false``.
    """
    p = str(path)
    warnings.warn(f"loading {p} with pickle (allow_pickle=True): only do this for files you trust", stacklevel=2)
    try:
        raw = np.load(p, allow_pickle=True)
        data = raw.item() if raw.dtype == object and raw.shape == () else None
    except Exception as e:  # noqa: BLE001 - anything a corrupt pickle can raise
        raise _fail(p, f"could not be read as a pickled .npy ({type(e).__name__}: {e})") from None
    if not isinstance(data, dict) or "states" not in data or "actions" not in data:
        raise _fail(p, "expected a pickled dict with 'states' and 'actions' (the tutorial's expert_data.npy)")
    states = np.asarray(data["states"], np.float32)
    actions = np.asarray(data["actions"], np.float32)
    states = states.reshape(states.shape[0], -1)
    actions = actions.reshape(actions.shape[0], -1)
    if states.shape[0] != actions.shape[0] or states.shape[0] < 2:
        raise _fail(p, f"states ({states.shape[0]}) and actions ({actions.shape[0]}) must have the same length >= 2")
    trajectories = []
    low, high = np.asarray(action_low, np.float64), np.asarray(action_high, np.float64)
    for start in range(0, states.shape[0], episode_length):
        s = states[start : start + episode_length]
        a = actions[start : start + episode_length]
        if len(s) < 2:
            continue
        n = len(s) - 1
        a01 = 2.0 * (np.clip(a[:n], low, high) - low) / (high - low) - 1.0
        trunc = np.zeros(n, bool)
        trunc[-1] = True
        trajectories.append(dict(obs=s[:n], action=a01, reward=np.zeros(n, np.float32), next_obs=s[1:], terminated=np.zeros(n, bool), truncated=trunc))
    demos = from_trajectories(trajectories, env_id, low, high, made_by={"imported_from": os.path.abspath(p), "format": "tutorial expert_data.npy (pickle)"})
    meta = dict(demos.metadata, rewards_known=False)
    return dataclasses.replace(demos, metadata=meta)
