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
from collections.abc import Sequence

import numpy as np

from jirl.nets import mlp_numpy_layers

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


def _direct_sim(env):
    """The MuJoCo handles and constants an exact HalfCheetah-v5 step needs, or None where Gymnasium's own
    ``env.step`` must be used (another env, rendering, or ``JIRL_GYM_STEP=1``)."""
    u = env.unwrapped
    if os.environ.get("JIRL_GYM_STEP") or type(u).__module__ != "gymnasium.envs.mujoco.half_cheetah_v5" or u.render_mode is not None:
        return None
    first = 1 if u._exclude_current_positions_from_observation else 0
    d = u.data
    return dict(
        model=u.model, data=d, ctrl=d.ctrl, qpos=d.qpos, qvel=d.qvel, frame_skip=u.frame_skip, dt=u.dt,
        forward_weight=u._forward_reward_weight, ctrl_weight=u._ctrl_cost_weight, first=first, npos=u.model.nq - first,
    )


def direct_step_fn(env):
    """An exact, faster replacement of ``env.step`` for Gymnasium's ``HalfCheetah-v5``, or None for other envs.

    Gymnasium's step spends 5-9 us per call in Python around the physics (info dict, wrappers;
    ``experiments/profile_acting.py`` times both). This calls the same MuJoCo functions on the env's own model and data, in the order its ``step`` does
    (``ctrl``, ``mj_step`` x frame_skip, ``mj_rnePostConstraint``), and computes the observation and reward with
    the same float64 expressions, so every number is bit-identical to ``env.step`` (``tests/test_bridge.py``
    checks it over whole episodes with truncation and autoreset). Resets still go through Gymnasium. The
    returned ``step(action, obs_out) -> reward`` writes the observation into ``obs_out``; the time limit is
    the caller's job (HalfCheetah never terminates). Set ``JIRL_GYM_STEP=1`` to always use ``env.step``.
    This is :class:`DirectGroup` (what a vector env steps its envs with) for one env.
    """
    sim = _direct_sim(env)
    if sim is None:
        return None
    group = DirectGroup([sim])

    def step(action: np.ndarray, obs_out: np.ndarray) -> float:
        return float(group.step(np.asarray(action)[None], obs_out[None])[0])  # no cast: the ctrl cost in the action's dtype, as Gymnasium

    return step


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class _Lanes:
    """``k`` lanes of work run at once: lane 0 on the calling thread, lanes ``1 .. k-1`` on persistent daemon
    threads woken through a pair of locks each (a lighter hand-off than ``threading.Event``).

    Only worth it for work that releases the GIL, e.g. ``mujoco.mj_step``; the Python around it still runs one
    thread at a time. An exception on a lane is re-raised by :meth:`run` on the calling thread. Threads do not
    survive ``fork``: a forked child must make its own envs (jirl's worker processes are spawned)."""

    def __init__(self, k: int):
        import threading

        self.k = k
        self._work = None
        self._errors: list[BaseException] = []
        self._stop = False
        self._start = [threading.Lock() for _ in range(k)]
        self._done = [threading.Lock() for _ in range(k)]
        self._threads = []
        for j in range(1, k):
            self._start[j].acquire()
            self._done[j].acquire()
            t = threading.Thread(target=self._loop, args=(j,), daemon=True, name=f"jirl-env-lane-{j}")
            t.start()
            self._threads.append(t)

    def _loop(self, j: int) -> None:
        while True:
            self._start[j].acquire()
            if self._stop:
                self._done[j].release()
                return
            try:
                self._work(j)
            except BaseException as e:  # handed to the caller of run()
                self._errors.append(e)
            self._done[j].release()

    def run(self, work) -> None:
        """Call ``work(j)`` for every lane ``j`` at once; returns when all are done."""
        self._work = work
        for j in range(1, self.k):
            self._start[j].release()
        try:
            work(0)
        finally:
            for j in range(1, self.k):
                self._done[j].acquire()
            self._work = None
            errors, self._errors = self._errors, []  # an error of lane 0 wins; none is kept for the next run
        if errors:
            raise errors[0]

    def close(self) -> None:
        self._stop = True
        for j in range(1, self.k):
            self._start[j].release()
        for t in self._threads:
            t.join(timeout=5)
        self._threads = []


class DirectGroup:
    """Exact MuJoCo stepping of a list of ``HalfCheetah-v5`` envs (see :func:`direct_step_fn`), the envs split
    over ``threads`` lanes (:class:`_Lanes`): ``mujoco.mj_step`` releases the GIL, so two threads step two envs
    at once. Each env keeps its own ``MjData``, so results are bit-identical to Gymnasium's ``env.step`` for any
    number of threads; the reward is computed on whole arrays with the same float64 expressions."""

    def __init__(self, sims: list[dict], threads: int = 1):
        import mujoco

        self.sims = sims
        consts = ("frame_skip", "dt", "forward_weight", "ctrl_weight", "first", "npos")
        if any(s[c] != sims[0][c] for s in sims for c in consts):
            raise ValueError("DirectGroup: every env must have the same frame skip, time step, reward weights and observation")
        self.frame_skip, self.dt, self.forward_weight, self.ctrl_weight, self.first, self.npos = (sims[0][c] for c in consts)
        self.threads = max(1, min(int(threads), len(sims)))
        self._lanes = _Lanes(self.threads) if self.threads > 1 else None
        self._x_before = np.empty(len(sims))
        self._mj_step, self._post = mujoco.mj_step, mujoco.mj_rnePostConstraint

    def _step_envs(self, envs, scaled: np.ndarray, obs_out: np.ndarray) -> None:
        frame_skip, first, npos = self.frame_skip, self.first, self.npos
        mj_step, post, x_before = self._mj_step, self._post, self._x_before
        for i in envs:
            s = self.sims[i]
            qpos = s["qpos"]
            x_before[i] = qpos[0]
            s["ctrl"][:] = scaled[i]
            mj_step(s["model"], s["data"], nstep=frame_skip)
            post(s["model"], s["data"])
            obs_out[i, :npos] = qpos[first:]
            obs_out[i, npos:] = s["qvel"]

    def step(self, scaled: np.ndarray, obs_out: np.ndarray) -> np.ndarray:
        """Step env ``i`` with ``scaled[i]`` (env units, float64), write its observation into ``obs_out[i]``;
        returns the rewards ``[N]`` (float64), each equal to Gymnasium's."""
        if self._lanes is None:
            self._step_envs(range(len(self.sims)), scaled, obs_out)
        else:
            # The lanes take envs from one shared iterator (its ``next`` is atomic under the GIL), so a lane that
            # starts late (a thread wake-up) or runs slow takes fewer envs; which lane steps an env changes nothing.
            todo = iter(range(len(self.sims)))
            self._lanes.run(lambda j: self._step_envs(todo, scaled, obs_out))
        x_after = np.array([s["qpos"][0] for s in self.sims])
        return self.forward_weight * ((x_after - self._x_before) / self.dt) - self.ctrl_weight * np.sum(np.square(scaled), axis=1)

    def close(self) -> None:
        if self._lanes is not None:
            self._lanes.close()
            self._lanes = None


class _EnvGroup:
    """Envs ``first .. first + n - 1`` of a vector env: autoreset and episode bookkeeping, writing each step's
    results into caller-provided arrays. Runs in the main process or in a worker (see :class:`VecEnv`)."""

    def __init__(self, env_id: str, n: int, max_episode_steps: int | None, kwargs: dict, threads: int = 1):
        import gymnasium as gym

        self.envs = [gym.make(env_id, max_episode_steps=max_episode_steps, **kwargs) for _ in range(n)]
        self.returns = np.zeros(n)
        self.lengths = np.zeros(n, dtype=np.int64)
        sims = [_direct_sim(env) for env in self.envs]
        limit = self.envs[0].spec.max_episode_steps if self.envs[0].spec else None
        self.direct = DirectGroup(sims, threads) if limit is not None and all(s is not None for s in sims) else None
        self.limit = limit

    def reset(self, seeds: list[int], obs_out: np.ndarray) -> None:
        for i, (env, seed) in enumerate(zip(self.envs, seeds, strict=True)):
            obs_out[i] = env.reset(seed=seed)[0]
        self.returns[:] = 0.0
        self.lengths[:] = 0

    def step(self, scaled: np.ndarray, next_obs, final_obs, reward, terminated, truncated) -> list[tuple[int, float, int]]:
        """Step every env; returns ``(local index, return, length)`` of the episodes that ended, in env order."""
        if self.direct is not None:
            return self._step_direct(scaled, next_obs, final_obs, reward, terminated, truncated)
        finished = []
        for i, env in enumerate(self.envs):
            o, r, term, trunc, _ = env.step(scaled[i])
            final_obs[i] = o
            reward[i] = r
            terminated[i], truncated[i] = term, trunc
            self.returns[i] += r
            self.lengths[i] += 1
            if term or trunc:
                finished.append((i, float(self.returns[i]), int(self.lengths[i])))
                self.returns[i] = 0.0
                self.lengths[i] = 0
                next_obs[i] = env.reset()[0]
            else:
                next_obs[i] = final_obs[i]
        return finished

    def _step_direct(self, scaled, next_obs, final_obs, reward, terminated, truncated) -> list[tuple[int, float, int]]:
        """:meth:`step` through the exact MuJoCo step functions, with the bookkeeping done on whole arrays
        (the per-env Python of the general path cost ~10 us per env step). Same results bit for bit."""
        r = self.direct.step(scaled, final_obs)
        reward[:] = r
        self.returns += r
        self.lengths += 1
        terminated[:] = False
        truncated[:] = self.lengths >= self.limit
        next_obs[:] = final_obs
        finished = []
        for i in np.flatnonzero(truncated).tolist():
            finished.append((i, float(self.returns[i]), int(self.lengths[i])))
            self.returns[i] = 0.0
            self.lengths[i] = 0
            next_obs[i] = self.envs[i].reset()[0]
        return finished

    def close(self) -> None:
        if self.direct is not None:
            self.direct.close()
        for env in self.envs:
            env.close()


@dataclasses.dataclass(frozen=True)
class HostPolicy:
    """A Gaussian MLP policy evaluated in NumPy for whole rollouts (:meth:`VecEnv.rollout`), with actions that do
    not depend on how the envs are split over worker processes.

    Per seed ``k``: ``layers[k] = [(kernel [in, out], bias [out]), ...]`` with tanh between layers (jirl's MLP, run by
    :func:`jirl.nets.mlp_numpy_layers`),
    ``std[k] [A]``, and ``norm[k] = (mean [D], scale [D])`` or ``norm = None`` (the observation is
    ``clip((obs - mean) / scale, -10, 10)``, as :func:`jirl.envs.normalize.norm_apply`). Env row ``r`` belongs to
    seed ``r // rows_per_seed``: ``action = mlp(obs) + std * noise``, unclipped (the env gets ``clip(action, -1, 1)``).

    How the split is kept out of the numbers: NumPy's matmul does not promise a row the same bits for every
    number of rows (OpenBLAS picks kernels by shape), nor do its SIMD ``tanh`` paths for every array length. So
    :meth:`act_rows` always evaluates a seed's whole block of ``rows_per_seed`` rows, each env at its own
    position, with zeros in the rows a caller does not own: every caller makes the same calls on the same shapes,
    and a GEMM's or an elementwise op's result for a row depends only on that row.
    """

    layers: tuple
    std: tuple
    norm: tuple | None
    rows_per_seed: int

    def act_rows(self, first: int, obs: np.ndarray, noise: np.ndarray, scratch: dict) -> np.ndarray:
        """Actions ``[n, A]`` of env rows ``first .. first + n - 1`` for their observations ``obs [n, D]`` and
        standard-normal ``noise [n, A]``. ``scratch`` (a dict, empty at first) keeps a zero-filled ``[rows_per_seed, D]``
        block per seed between calls; only the caller's rows of it are ever written."""
        N, n = self.rows_per_seed, len(obs)
        out = np.empty((n, self.std[0].shape[0]), np.float32)
        r = first
        while r < first + n:
            k = r // N
            lo, hi = r - k * N, min((k + 1) * N, first + n) - k * N  # this seed's rows, as positions in its block
            x = scratch.get(k)
            if x is None:
                x = scratch[k] = np.zeros((N, obs.shape[1]), np.float32)
            done = r - first
            x[lo:hi] = obs[done : done + hi - lo]
            if self.norm is not None:
                mean, scale = self.norm[k]
                x = np.clip((x - mean) / scale, -10.0, 10.0)
            x = mlp_numpy_layers(self.layers[k], x)
            out[done : done + hi - lo] = x[lo:hi] + self.std[k] * noise[done : done + hi - lo]
            r += hi - lo
        return out


def scale_to_bounds(action: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Actions in ``[-1, 1]`` (clipped first) mapped to ``[low, high]``, in float64: what every env of the bridge gets."""
    action = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
    return low + 0.5 * (action + 1.0) * (high - low)


def _rollout_layout(T: int, n: int, obs_dim: int, action_dim: int) -> dict:
    """name -> (shape, dtype) of a whole rollout of ``T`` steps of ``n`` envs (what :meth:`VecEnv.rollout` returns)."""
    return {
        "obs": ((T, n, obs_dim), np.float32),
        "action": ((T, n, action_dim), np.float32),
        "reward": ((T, n), np.float32),
        "terminated": ((T, n), np.bool_),
        "episode_end": ((T, n), np.bool_),
        "final_obs": ((T, n, obs_dim), np.float32),
    }


def _rollout_rows(group: _EnvGroup, policy: HostPolicy, noise: np.ndarray, first: int, out: dict, io: dict, low, high) -> list:
    """Roll ``group``'s envs (rows ``first ..`` of the vector env) for ``T = len(noise)`` steps with ``policy``,
    writing their rows of the rollout arrays ``out`` (:func:`_rollout_layout`) and leaving each env's next
    observation in ``io["next_obs"]``; ``io`` holds the group's step arrays (:func:`_shared_layout`, its rows).
    Returns the finished episodes as ``(t, row, return, length)`` in step, then row, order. The env sees the same
    ``clip``-and-rescale of the action as :meth:`VecEnv.step`, so this equals acting step by step."""
    T, n = noise.shape[:2]
    rows = slice(first, first + n)
    obs = io["next_obs"]
    scratch: dict = {}
    finished = []
    for t in range(T):
        act = policy.act_rows(first, obs, noise[t], scratch)
        out["obs"][t, rows] = obs
        out["action"][t, rows] = act
        io["actions"][:] = scale_to_bounds(act, low, high)
        done = group.step(io["actions"], io["next_obs"], io["final_obs"], io["reward"], io["terminated"], io["truncated"])
        out["reward"][t, rows] = io["reward"]
        out["terminated"][t, rows] = io["terminated"]
        out["episode_end"][t, rows] = io["terminated"] | io["truncated"]
        out["final_obs"][t, rows] = io["final_obs"]
        finished.extend((t, first + i, r, length) for i, r, length in done)
    return finished


def _shared_layout(n: int, obs_dim: int, action_dim: int) -> dict:
    """name -> (shape, dtype) of the arrays a VecEnv shares with its workers."""
    return {
        "actions": ((n, action_dim), np.float64),
        "next_obs": ((n, obs_dim), np.float32),
        "final_obs": ((n, obs_dim), np.float32),
        "reward": ((n,), np.float32),
        "terminated": ((n,), np.bool_),
        "truncated": ((n,), np.bool_),
    }


def _shared_views(buf, layout: dict) -> dict:
    views, offset = {}, 0
    for name, (shape, dtype) in layout.items():
        size = int(np.prod(shape)) * np.dtype(dtype).itemsize
        views[name] = np.ndarray(shape, dtype=dtype, buffer=buf, offset=offset)
        offset += -(-size // 8) * 8
    return views


def _shared_size(layout: dict) -> int:
    return sum(-(-(int(np.prod(shape)) * np.dtype(dtype).itemsize) // 8) * 8 for shape, dtype in layout.values())


def _worker(conn, shm_name: str, layout: dict, first: int, n: int, env_id: str, max_episode_steps, kwargs: dict) -> None:
    """A worker process: owns envs ``first .. first + n - 1`` and steps them on request."""
    from multiprocessing import shared_memory

    shm = rollout_shm = None
    try:
        quiet_mujoco_warnings()
        shm = shared_memory.SharedMemory(name=shm_name)
        v = _shared_views(shm.buf, layout)
        sl = slice(first, first + n)
        io = {key: view[sl] for key, view in v.items()}  # this worker's rows of the step arrays
        group = _EnvGroup(env_id, n, max_episode_steps, kwargs)
        conn.send(("ready", None))
        while True:
            cmd, arg = conn.recv()
            if cmd == "step":
                done = group.step(io["actions"], io["next_obs"], io["final_obs"], io["reward"], io["terminated"], io["truncated"])
                conn.send(("ok", [(first + i, r, length) for i, r, length in done]))
            elif cmd == "reset":
                group.reset(arg, io["next_obs"])
                conn.send(("ok", None))
            elif cmd == "rollout":  # a whole rollout of this worker's envs, no message per step
                name, policy, noise, low, high = arg
                if rollout_shm is None or rollout_shm.name != name:
                    if rollout_shm is not None:
                        out = None  # views must go before close()
                        rollout_shm.close()
                    rollout_shm = shared_memory.SharedMemory(name=name)
                    out = _shared_views(rollout_shm.buf, _rollout_layout(len(noise), len(v["next_obs"]), v["next_obs"].shape[1], v["actions"].shape[1]))
                conn.send(("ok", _rollout_rows(group, policy, noise, first, out, io, low, high)))
            else:
                group.close()
                conn.send(("ok", None))
                break
    except KeyboardInterrupt:
        pass
    except BaseException as e:  # report to the main process instead of dying silently
        import traceback

        try:
            conn.send(("error", f"{type(e).__name__}: {e}\n{traceback.format_exc()}"))
        except OSError:
            pass
    finally:
        out = v = io = None  # views must go before close()
        if rollout_shm is not None:
            rollout_shm.close()
        if shm is not None:
            shm.close()


MIN_ENVS_PER_THREAD = 4


def _count_from_env(name: str, minimum: int, num_envs: int) -> int | None:
    """The whole number in environment variable ``name`` (at least ``minimum``, capped at ``num_envs``), or None
    when it is unset; anything else is a one-line ValueError."""
    value = os.environ.get(name)
    if not value:
        return None
    try:
        n = int(value)
    except ValueError:
        n = minimum - 1
    if n < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    return min(n, num_envs)


def default_env_threads(num_envs: int) -> int:
    """Threads a :class:`VecEnv` of ``num_envs`` HalfCheetah-v5 envs steps them on by default: ``JIRL_ENV_THREADS``
    if set, else 2 when there are at least MIN_ENVS_PER_THREAD envs per thread and two cores, else 1."""
    n = _count_from_env("JIRL_ENV_THREADS", 1, num_envs)
    if n is not None:
        return n
    return 2 if available_cores() >= 2 and num_envs >= 2 * MIN_ENVS_PER_THREAD else 1


def default_env_workers(num_envs: int) -> int:
    """Worker processes the training loops (PPO, GAIL, AIRL) collect their rollouts with by default:
    ``JIRL_ENV_WORKERS`` if set, else 2 when there are at least 2 x MIN_ENVS_PER_THREAD envs and two cores, else 0
    (in this process). Each worker runs its envs' whole rollout, acting included (:meth:`VecEnv.rollout`), so a
    round costs one message per worker; the results are the same for any number."""
    n = _count_from_env("JIRL_ENV_WORKERS", 0, num_envs)
    if n is not None:
        return n
    return 2 if available_cores() >= 2 and num_envs >= 2 * MIN_ENVS_PER_THREAD else 0


class VecEnv:
    """``num_envs`` Gymnasium envs stepped in lock-step, with autoreset and action rescaling.

    Args:
      env_id: any registered Gymnasium id with a Box action space (e.g. ``"HalfCheetah-v5"``).
      num_envs: number of copies.
      seed: env ``i`` is first reset with seed ``seed + i``; later resets continue each env's own RNG.
      max_episode_steps: override of the env's time limit (None keeps the registered one).
      workers: 0 steps the envs in this process; ``W > 0`` splits them over ``W`` worker processes that step
        in parallel (actions and results go through shared memory, one pipe message per worker and step).
        Results are identical either way; workers pay off when env stepping dominates (several envs, a
        MuJoCo env, spare cores). Call :meth:`close` (or use ``with``) to stop them.
      threads: with ``workers=0``, threads stepping the envs of HalfCheetah-v5's exact MuJoCo path
        (:class:`DirectGroup`; other envs ignore it). None picks :func:`default_env_threads` (the env variable
        ``JIRL_ENV_THREADS`` overrides it). Results are bit-identical for any number.
    """

    def __init__(
        self, env_id: str, num_envs: int = 1, seed: int = 0, max_episode_steps: int | None = None, workers: int = 0, threads: int | None = None, **kwargs
    ):
        import gymnasium as gym

        quiet_mujoco_warnings()
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if not 0 <= workers <= num_envs:
            raise ValueError(f"workers must be between 0 and num_envs ({num_envs}), got {workers}")
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        try:
            probe = gym.make(env_id, max_episode_steps=max_episode_steps, **kwargs)
        except gym.error.Error as e:
            raise ValueError(f"cannot make Gymnasium env {env_id!r}: {e}") from None
        space = probe.action_space
        if not isinstance(space, gym.spaces.Box):
            raise ValueError(f"{env_id} has a {type(space).__name__} action space; jirl's bridge needs a Box")
        obs_space = probe.observation_space
        if not isinstance(obs_space, gym.spaces.Box) or len(obs_space.shape) != 1:
            raise ValueError(f"{env_id} needs a flat Box observation space, got {obs_space}")
        self.env_id = env_id
        self.num_envs = num_envs
        self.workers = workers
        self.threads = 1
        self.obs_dim = int(obs_space.shape[0])
        self.action_dim = int(space.shape[0])
        self.action_low = space.low.astype(np.float64)
        self.action_high = space.high.astype(np.float64)
        self.max_episode_steps = probe.spec.max_episode_steps if probe.spec else None
        self._seed = seed
        self._obs = None
        self._procs, self._conns, self._shm = [], [], None
        self._rollout_shm, self._rollout_views = None, None
        self._bounds = np.linspace(0, num_envs, workers + 1).round().astype(int)  # worker w owns envs [b[w], b[w+1])
        probe.close()
        layout = _shared_layout(num_envs, self.obs_dim, self.action_dim)
        if workers == 0:
            want = default_env_threads(num_envs) if threads is None else min(threads, num_envs)
            self._group = _EnvGroup(env_id, num_envs, max_episode_steps, kwargs, want)
            self.threads = self._group.direct.threads if self._group.direct is not None else 1  # other envs: one thread
            self._arrays = {name: np.zeros(shape, dtype) for name, (shape, dtype) in layout.items()}
        else:
            self._group = None
            self._start_workers(layout, env_id, max_episode_steps, kwargs)

    def _start_workers(self, layout: dict, env_id: str, max_episode_steps, kwargs: dict) -> None:
        import multiprocessing as mp
        from multiprocessing import shared_memory

        self._shm = shared_memory.SharedMemory(create=True, size=_shared_size(layout))
        self._arrays = _shared_views(self._shm.buf, layout)
        ctx = mp.get_context("spawn")  # never fork a process that runs XLA threads
        try:
            for first, last in zip(self._bounds[:-1], self._bounds[1:], strict=True):
                parent, child = ctx.Pipe()
                proc = ctx.Process(
                    target=_worker, args=(child, self._shm.name, layout, int(first), int(last - first), env_id, max_episode_steps, kwargs), daemon=True
                )
                proc.start()
                child.close()
                self._procs.append(proc)
                self._conns.append(parent)
            for conn in self._conns:
                self._receive(conn)
        except BaseException:
            self.close()
            raise

    def _receive(self, conn):
        try:
            status, payload = conn.recv()
        except EOFError:
            raise RuntimeError(f"a {self.env_id} worker process died") from None
        if status == "error":
            raise RuntimeError(f"{self.env_id} worker failed: {payload}")
        return payload

    @property
    def current_obs(self) -> np.ndarray | None:
        """The observations ``[N, obs_dim]`` the envs are at (what the last reset/step/rollout returned)."""
        return self._obs

    def scale_action(self, action: np.ndarray) -> np.ndarray:
        """Map actions from ``[-1, 1]`` to the env's ``[low, high]`` (clipping first)."""
        return scale_to_bounds(action, self.action_low, self.action_high)

    def reset(self, seed: int | None = None, seeds: Sequence[int] | None = None) -> np.ndarray:
        """Reset every env (env ``i`` with ``seed + i``, or with ``seeds[i]`` when given); returns observations
        ``[N, obs_dim]`` (float32)."""
        if seeds is None:
            base = self._seed if seed is None else seed
            seeds = [base + i for i in range(self.num_envs)]
        elif len(seeds) != self.num_envs:
            raise ValueError(f"seeds must list one seed per env ({self.num_envs}), got {len(seeds)}")
        seeds = [int(s) for s in seeds]
        if self._group is not None:
            self._group.reset(seeds, self._arrays["next_obs"])
        else:
            for conn, first, last in zip(self._conns, self._bounds[:-1], self._bounds[1:], strict=True):
                conn.send(("reset", seeds[first:last]))
            for conn in self._conns:
                self._receive(conn)
        self._obs = self._arrays["next_obs"].copy()
        return self._obs

    def step(self, actions: np.ndarray) -> StepResult:
        """Step every env with ``actions`` in ``[-1, 1]``, shape ``[N, action_dim]``; autoreset finished envs."""
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs, self.action_dim):
            raise ValueError(f"actions must have shape {(self.num_envs, self.action_dim)}, got {actions.shape}")
        if self._obs is None:
            raise RuntimeError("call reset() before step()")
        a = self._arrays
        a["actions"][:] = self.scale_action(actions)
        if self._group is not None:
            finished = self._group.step(a["actions"], a["next_obs"], a["final_obs"], a["reward"], a["terminated"], a["truncated"])
        else:
            for conn in self._conns:
                conn.send(("step", None))
            finished = [f for conn in self._conns for f in self._receive(conn)]
        self._obs = a["next_obs"].copy()
        return StepResult(
            self._obs, a["reward"].copy(), a["terminated"].copy(), a["truncated"].copy(), a["final_obs"].copy(),
            [r for _, r, _ in finished], [n for _, _, n in finished],
        )

    def rollout(self, policy: HostPolicy, noise: np.ndarray) -> tuple[dict, np.ndarray, list]:
        """Act with ``policy`` and step every env for ``T = len(noise)`` steps from the current observations,
        the noise of step ``t`` and env ``i`` being ``noise[t, i]`` (``[T, N, A]``, standard normal).

        Equal, bit for bit, to calling :meth:`step` ``T`` times with ``policy.act_rows`` of the observations
        (what ``tests/test_bridge.py`` checks), but with worker processes (``workers = W``) each worker runs its
        envs' whole rollout (acting included) and answers once, instead of one message per step: on 2 cores the
        per-step hand-offs cost more than the physics they parallelize. In this process the envs are stepped as
        :meth:`step` steps them (threads included). Returns ``(arrays, next_obs [N, D], finished)``: ``arrays``
        maps ``obs``, ``action`` (unclipped), ``reward``, ``terminated``, ``episode_end`` and ``final_obs`` to
        ``[T, N, ...]`` arrays; ``finished`` lists ``(t, env, return, length)`` of the episodes that ended, in
        step, then env, order."""
        noise = np.asarray(noise, np.float32)
        if noise.ndim != 3 or noise.shape[1:] != (self.num_envs, self.action_dim) or len(noise) < 1:
            raise ValueError(f"noise must have shape [T, {self.num_envs}, {self.action_dim}] with T >= 1, got {noise.shape}")
        if self._obs is None:
            raise RuntimeError("call reset() before rollout()")
        T = len(noise)
        layout = _rollout_layout(T, self.num_envs, self.obs_dim, self.action_dim)
        if self._group is not None:
            out = {name: np.empty(shape, dtype) for name, (shape, dtype) in layout.items()}
            finished = _rollout_rows(self._group, policy, noise, 0, out, self._arrays, self.action_low, self.action_high)
        else:
            from multiprocessing import shared_memory

            if self._rollout_views is None or self._rollout_views["obs"].shape[0] != T:
                self._close_rollout_shm()
                self._rollout_shm = shared_memory.SharedMemory(create=True, size=_shared_size(layout))
                self._rollout_views = _shared_views(self._rollout_shm.buf, layout)
            for conn, first, last in zip(self._conns, self._bounds[:-1], self._bounds[1:], strict=True):
                conn.send(("rollout", (self._rollout_shm.name, policy, noise[:, first:last], self.action_low, self.action_high)))
            finished = sorted(f for conn in self._conns for f in self._receive(conn))
            out = {name: view.copy() for name, view in self._rollout_views.items()}
        self._obs = self._arrays["next_obs"].copy()
        return out, self._obs, finished

    def _close_rollout_shm(self) -> None:
        if self._rollout_shm is not None:
            self._rollout_views = None
            self._rollout_shm.close()
            self._rollout_shm.unlink()
            self._rollout_shm = None

    def sample_actions(self, rng: np.random.Generator) -> np.ndarray:
        """Uniform random actions in ``[-1, 1]``, ``[N, action_dim]``."""
        return rng.uniform(-1.0, 1.0, size=(self.num_envs, self.action_dim)).astype(np.float32)

    def close(self) -> None:
        if self._group is not None:
            self._group.close()
            self._group = None
        for conn in self._conns:
            try:
                conn.send(("close", None))
                conn.recv()
            except (OSError, EOFError):
                pass
        for proc in self._procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
        self._procs, self._conns = [], []
        self._close_rollout_shm()
        if self._shm is not None:
            self._arrays = {}
            self._shm.close()
            self._shm.unlink()
            self._shm = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if getattr(self, "_procs", None) or getattr(self, "_shm", None) is not None:
            try:
                self.close()
            except Exception:
                pass


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


def run_grouped_episodes(env: VecEnv, policy, seeds: Sequence[int]) -> np.ndarray:
    """One whole episode in every env of ``env``, whose ``G * E`` envs form ``G = len(seeds)`` groups of ``E``
    (e.g. one group per vmapped training seed): env ``g * E + i`` is reset with ``seeds[g] + i``, so group ``g``
    plays the episodes that :func:`run_episodes` with ``E`` envs and ``seed=seeds[g]`` plays.

    ``policy``: ``obs [G * E, obs_dim] -> actions [G * E, A]`` in ``[-1, 1]``. Returns the returns ``[G, E]``.
    """
    G = len(seeds)
    if G < 1 or env.num_envs % G:
        raise ValueError(f"{env.num_envs} envs cannot form {G} equal groups")
    E = env.num_envs // G
    obs = env.reset(seeds=[s + i for s in seeds for i in range(E)])
    returns = np.full(env.num_envs, np.nan)
    active = np.ones(env.num_envs, bool)
    while active.any():
        res = env.step(np.clip(np.asarray(policy(obs), dtype=np.float32), -1.0, 1.0))
        for j, i in enumerate(np.flatnonzero(res.terminated | res.truncated)):  # finished_* are listed in this order
            if active[i]:
                active[i] = False
                returns[i] = res.finished_returns[j]
        obs = res.obs
    return returns.reshape(G, E)
