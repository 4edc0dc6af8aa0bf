"""The one place where NumPy meets JAX: vector environments over Gymnasium.

:class:`VecEnv` steps ``N`` copies of any Gymnasium env with a continuous (Box) action space. Policies act in
``[-1, 1]^A``; the bridge rescales actions to the env's bounds. Episodes are reset automatically inside
``step`` and the **true final observation** of every finished episode is returned in ``final_obs`` (for
unfinished envs ``final_obs == next observation``), so a learner can always bootstrap from ``V(final_obs)``
when an episode is truncated. ``terminated`` (a true terminal state) and ``truncated`` (a time limit; the
only way ``HalfCheetah-v5`` episodes end, at 1000 steps) are kept apart.
"""

from __future__ import annotations

import dataclasses
import os
import sys

import numpy as np

_MUJOCO_WARNINGS_SEEN: set[str] = set()


def quiet_mujoco_warnings() -> None:
    """Show each distinct MuJoCo warning once (as a Python warning) instead of once per env.

    MuJoCo 4 warns that ``settotalmass`` (used by Gymnasium's model files) is deprecated, once per env made;
    with vector envs and evaluation envs that is a wall of identical lines.
    """
    try:
        import mujoco
    except ImportError:  # pragma: no cover - mujoco is a dependency, but non-MuJoCo envs need none of this
        return

    def handler(msg: str) -> None:
        if msg not in _MUJOCO_WARNINGS_SEEN:
            _MUJOCO_WARNINGS_SEEN.add(msg)
            if os.environ.get("JIRL_SHOW_MUJOCO_WARNINGS"):
                print(f"MuJoCo warning: {msg}", file=sys.stderr)

    mujoco.set_mju_user_warning(handler)


@dataclasses.dataclass
class StepResult:
    """What :meth:`VecEnv.step` returns; all arrays have a leading ``[N]`` env axis."""

    obs: np.ndarray  # [N, obs_dim] observation to act on next (the reset observation where an episode ended)
    reward: np.ndarray  # [N] float32
    terminated: np.ndarray  # [N] bool: true terminal state, cuts the bootstrap
    truncated: np.ndarray  # [N] bool: time limit, bootstrap from final_obs
    final_obs: np.ndarray  # [N, obs_dim] true next observation of this step (before any reset)
    finished_returns: list  # undiscounted returns of the episodes that ended this step
    finished_lengths: list


class VecEnv:
    """``num_envs`` Gymnasium envs stepped in lock-step, with autoreset and action rescaling.

    Args:
      env_id: any registered Gymnasium id with a Box action space (e.g. ``"HalfCheetah-v5"``).
      num_envs: number of copies.
      seed: env ``i`` is first reset with seed ``seed + i``; later resets continue each env's own RNG.
      max_episode_steps: override of the env's time limit (None keeps the registered one).
    """

    def __init__(self, env_id: str, num_envs: int = 1, seed: int = 0, max_episode_steps: int | None = None, **kwargs):
        import gymnasium as gym

        quiet_mujoco_warnings()
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        try:
            self.envs = [gym.make(env_id, max_episode_steps=max_episode_steps, **kwargs) for _ in range(num_envs)]
        except gym.error.Error as e:
            raise ValueError(f"cannot make Gymnasium env {env_id!r}: {e}") from None
        space = self.envs[0].action_space
        if not isinstance(space, gym.spaces.Box):
            raise ValueError(f"{env_id} has a {type(space).__name__} action space; jirl's bridge needs a Box")
        obs_space = self.envs[0].observation_space
        if not isinstance(obs_space, gym.spaces.Box) or len(obs_space.shape) != 1:
            raise ValueError(f"{env_id} needs a flat Box observation space, got {obs_space}")
        self.env_id = env_id
        self.num_envs = num_envs
        self.obs_dim = int(obs_space.shape[0])
        self.action_dim = int(space.shape[0])
        self.action_low = space.low.astype(np.float64)
        self.action_high = space.high.astype(np.float64)
        self.max_episode_steps = self.envs[0].spec.max_episode_steps if self.envs[0].spec else None
        self._seed = seed
        self._returns = np.zeros(num_envs)
        self._lengths = np.zeros(num_envs, dtype=np.int64)
        self._obs = None

    def scale_action(self, action: np.ndarray) -> np.ndarray:
        """Map actions from ``[-1, 1]`` to the env's ``[low, high]`` (clipping first)."""
        action = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        return self.action_low + 0.5 * (action + 1.0) * (self.action_high - self.action_low)

    def reset(self, seed: int | None = None) -> np.ndarray:
        """Reset every env; returns observations ``[N, obs_dim]`` (float32)."""
        base = self._seed if seed is None else seed
        obs = [env.reset(seed=base + i)[0] for i, env in enumerate(self.envs)]
        self._returns[:] = 0.0
        self._lengths[:] = 0
        self._obs = np.stack(obs).astype(np.float32)
        return self._obs

    def step(self, actions: np.ndarray) -> StepResult:
        """Step every env with ``actions`` in ``[-1, 1]``, shape ``[N, action_dim]``; autoreset finished envs."""
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs, self.action_dim):
            raise ValueError(f"actions must have shape {(self.num_envs, self.action_dim)}, got {actions.shape}")
        if self._obs is None:
            raise RuntimeError("call reset() before step()")
        scaled = self.scale_action(actions)
        n = self.num_envs
        next_obs = np.empty((n, self.obs_dim), np.float32)
        final_obs = np.empty((n, self.obs_dim), np.float32)
        reward = np.empty(n, np.float32)
        terminated = np.zeros(n, bool)
        truncated = np.zeros(n, bool)
        finished_returns, finished_lengths = [], []
        for i, env in enumerate(self.envs):
            o, r, term, trunc, _ = env.step(scaled[i])
            final_obs[i] = o
            reward[i] = r
            terminated[i], truncated[i] = term, trunc
            self._returns[i] += r
            self._lengths[i] += 1
            if term or trunc:
                finished_returns.append(float(self._returns[i]))
                finished_lengths.append(int(self._lengths[i]))
                self._returns[i] = 0.0
                self._lengths[i] = 0
                o, _ = env.reset()
            next_obs[i] = o
        self._obs = next_obs
        return StepResult(next_obs, reward, terminated, truncated, final_obs, finished_returns, finished_lengths)

    def sample_actions(self, rng: np.random.Generator) -> np.ndarray:
        """Uniform random actions in ``[-1, 1]``, ``[N, action_dim]``."""
        return rng.uniform(-1.0, 1.0, size=(self.num_envs, self.action_dim)).astype(np.float32)

    def close(self) -> None:
        for env in self.envs:
            env.close()


def run_episodes(env: VecEnv, policy, num_episodes: int, seed: int, record: bool = False):
    """Roll out ``policy`` (``obs [N, obs_dim] -> actions [N, A]`` in ``[-1, 1]``) for ``num_episodes`` whole
    episodes, ``env.num_envs`` at a time (envs beyond the episodes still needed idle along).

    Returns ``(returns [E], lengths [E], trajectories)``; ``trajectories`` is a list of per-episode dicts of
    arrays (obs, action, reward, next_obs, terminated, truncated) when ``record`` is set, else empty.
    """
    returns, lengths, trajectories = [], [], []
    done = 0
    while done < num_episodes:
        n_active = min(env.num_envs, num_episodes - done)
        obs = env.reset(seed=seed + done)
        active = np.arange(env.num_envs) < n_active
        keys = ("obs", "action", "reward", "next_obs", "terminated", "truncated")
        bufs = [{k: [] for k in keys} for _ in range(env.num_envs)]
        while active.any():
            action = np.clip(np.asarray(policy(obs), dtype=np.float32), -1.0, 1.0)
            res = env.step(action)
            if record:
                for i in np.flatnonzero(active):
                    for k, v in zip(keys, (obs, action, res.reward, res.final_obs, res.terminated, res.truncated), strict=False):
                        bufs[i][k].append(v[i])
            ended = np.flatnonzero(res.terminated | res.truncated)  # finished_* are listed in this order
            for j, i in enumerate(ended):
                if active[i]:
                    active[i] = False
                    returns.append(res.finished_returns[j])
                    lengths.append(res.finished_lengths[j])
                    if record:
                        trajectories.append({k: np.asarray(v) for k, v in bufs[i].items()})
            obs = res.obs
        done += n_active
    return np.asarray(returns), np.asarray(lengths), trajectories
