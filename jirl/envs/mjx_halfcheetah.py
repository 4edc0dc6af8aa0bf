"""A pure-JAX twin of Gymnasium's ``HalfCheetah-v5``, simulated by MuJoCo MJX (optional extra ``[mjx]``).

The whole env is jit-, vmap- and scan-able, so thousands of envs can step inside one compiled call:

    env = HalfCheetahMJX()
    state = jax.vmap(env.reset)(jax.random.split(key, 64))            # 64 envs
    def body(state, key):
        action = jax.random.uniform(key, (64, env.action_dim), minval=-1.0, maxval=1.0)
        state, obs, reward, terminated, truncated, info = jax.vmap(env.step_autoreset)(state, action)
        return state, (reward, truncated, info["final_obs"])
    state, (rewards, truncs, final_obs) = jax.lax.scan(body, state, jax.random.split(key, 3000))

It loads the very model file Gymnasium ships (``gymnasium/envs/mujoco/assets/half_cheetah.xml``) and copies
``half_cheetah_v5.py``'s defaults: 5 MuJoCo steps (dt = 0.05 s) per env step, observation
``concat(qpos[1:], qvel)`` (17 numbers), reward ``1.0 * x_velocity - 0.1 * sum(action**2)`` with
``x_velocity = (qpos[0] after - qpos[0] before) / dt``, reset noise ``qpos0 + U(-0.1, 0.1)`` and
``0.1 * N(0, 1)`` velocities, never terminated, truncated at step 1000 (Gymnasium's ``TimeLimit``). As in
Gymnasium, actions are not clipped by the env: the control cost uses the action as given and MuJoCo (MJX
likewise) clamps the control to the actuators' ``ctrlrange`` ``[-1, 1]`` inside the physics. (jirl's
Gymnasium bridge, ``VecEnv``, clips policy actions to ``[-1, 1]`` before the env sees them; clip likewise
before :meth:`HalfCheetahMJX.step` to get the bridge's rewards for out-of-range actions.)

Differences from Gymnasium: MJX computes in float32 (MuJoCo in float64; with ``jax_enable_x64`` the twin runs
in float64 and one step agrees to ~1e-12), so trajectories agree closely for the first steps and then drift
apart (a random-action cheetah is chaotic; tests/test_mjx_twin.py states the measured errors); observations
and rewards are float32 (the Gymnasium bridge also hands float32 to learners), and since ``x_velocity`` is a
difference of float32 positions, a cheetah 500 m down the track (an expert's whole episode) sees its reward
in steps of ~1e-3; random resets draw from JAX's PRNG, not NumPy's, so the same seed gives other (equally distributed) start states;
``mj_rnePostConstraint`` (which Gymnasium calls after stepping, for ``cacc``/``cfrc_*`` only) is skipped,
since nothing here reads those fields.

Matmul precision: on GPUs, XLA runs float32 matrix products at reduced (TF32) precision by default. The physics
of :meth:`HalfCheetahMJX.step` is traced under ``jax.default_matmul_precision("highest")``, so that it is
float32 everywhere (networks elsewhere keep the default). Measured on an H100: with the default precision the
one-step agreement with Gymnasium broke (reward errors up to 5e-4, observations 0.03); with "highest" every
agreement test passes, and 8,192 envs stepped at 344k instead of 360k env steps/s (experiments/mjx_speed.py).

Compile once: arrays made outside ``jit`` (an eager :meth:`HalfCheetahMJX.reset`, NumPy actions) are
"uncommitted" to a device and the outputs of a jitted step are committed, so stepping first the one and then
the other can compile the step twice (seen in development with MJX data; plain arrays compiled once in a jax 0.10.2 check). ``jax.device_put`` the initial state (and
actions) to ``jax.devices()[0]``, or make them inside the same ``jit``.

Caveat (jaxlib 0.10.2, 2-core CPU): with 1,024 vmapped envs a compiled step sometimes never returned (XLA:CPU
wedged, every thread idle, Python waiting in ``block_until_ready``), e.g. in both full runs of
``experiments/mjx_speed.py`` during development, whichever of the XLA flags tried (concurrency-optimized
scheduler off, single-threaded Eigen, no XNNPACK/YNN fusions, no async dispatch). No run with 1 to 512 envs hung. If it happens, use fewer envs per compiled call on CPU.

Importing this module needs no MJX; :class:`HalfCheetahMJX` raises :class:`MJXNotInstalledError` (an
``ImportError`` with a one-line hint) when ``mujoco-mjx`` is missing.
"""

from __future__ import annotations

import contextlib
import io
import os
from typing import Any

import chex
import jax
import jax.numpy as jnp

INSTALL_HINT = 'the MJX twin of HalfCheetah-v5 needs mujoco-mjx: pip install -e ".[mjx]"'


class MJXNotInstalledError(ImportError):
    """``mujoco-mjx`` is not installed; the message says how to install it."""


def import_mjx():
    """``(mujoco, mujoco.mjx)``, or :class:`MJXNotInstalledError` with an install hint.

    MJX prints ``Failed to import warp`` on stdout when its optional GPU backend (Warp) is absent; that line
    is swallowed here, since jirl uses MJX's JAX implementation only.
    """
    try:
        import mujoco

        with contextlib.redirect_stdout(io.StringIO()):
            from mujoco import mjx
    except ImportError as e:
        raise MJXNotInstalledError(f"{INSTALL_HINT} ({e})") from None
    return mujoco, mjx


def gymnasium_asset(name: str = "half_cheetah.xml") -> str:
    """Path of a model file shipped inside the installed Gymnasium package (no downloads)."""
    import gymnasium.envs.mujoco

    path = os.path.join(os.path.dirname(gymnasium.envs.mujoco.__file__), "assets", name)
    if not os.path.exists(path):
        raise FileNotFoundError(f"Gymnasium ships no {name} at {path}")
    return path


@chex.dataclass(frozen=True)
class MJXEnvState:
    """One env's state (add a leading ``[N]`` axis to every leaf for ``N`` vmapped envs)."""

    data: Any  # mjx.Data: the full simulator state (qpos [9], qvel [9], warm start, contacts, ...)
    obs: jax.Array  # [17] float32, the observation of ``data``
    t: jax.Array  # int32 scalar: steps taken in the current episode
    key: jax.Array  # PRNG key for the next automatic reset


class HalfCheetahMJX:
    """Gymnasium's ``HalfCheetah-v5`` as pure JAX functions: :meth:`reset`, :meth:`step`,
    :meth:`step_autoreset` and :meth:`state_from`. The constructor loads the model (host side, once); the
    methods are pure functions of their arguments (the model is a constant), safe under ``jit``/``vmap``/``scan``.

    The arguments are ``HalfCheetahEnv``'s (Gymnasium 1.x, ``half_cheetah_v5.py``) with the same defaults,
    plus ``max_episode_steps`` (its registered ``TimeLimit``) and ``ls_iterations``: the cap on the constraint
    solver's line-search iterations, 50 in the model file. Vmapped, MJX runs every env's line search until the
    slowest one stops, and some never meet the tolerance in float32, so the cap sets the cost: 8 (the default
    here) gives the same states as 50 (bit for bit on a CPU; tests/test_mjx_twin.py) and made 64 random-action
    envs step 3.7x faster on a 2-core CPU (``python experiments/mjx_speed.py --num-envs 64 --env-steps 6400
    --gym-steps 0 --ls-iterations 8``, then ``None``: 2,740 vs 734 env steps/s). ``None`` keeps the model
    file's 50.
    """

    def __init__(
        self,
        frame_skip: int = 5,
        forward_reward_weight: float = 1.0,
        ctrl_cost_weight: float = 0.1,
        reset_noise_scale: float = 0.1,
        max_episode_steps: int = 1000,
        xml_file: str | None = None,
        ls_iterations: int | None = 8,
    ):
        mujoco, mjx = import_mjx()
        from jirl.envs.gym_bridge import quiet_mujoco_warnings

        quiet_mujoco_warnings()  # Gymnasium's XML uses the deprecated `settotalmass`
        self._mjx = mjx
        self.mj_model = mujoco.MjModel.from_xml_path(xml_file or gymnasium_asset("half_cheetah.xml"))
        if ls_iterations is not None:  # see the class docstring
            self.mj_model.opt.ls_iterations = ls_iterations
        self.model = mjx.put_model(self.mj_model, impl="jax")  # MJX's JAX implementation (not Warp), also on GPUs
        self.frame_skip = frame_skip
        self.forward_reward_weight = forward_reward_weight
        self.ctrl_cost_weight = ctrl_cost_weight
        self.reset_noise_scale = reset_noise_scale
        self.max_episode_steps = max_episode_steps
        self.dt = float(self.mj_model.opt.timestep) * frame_skip  # Gymnasium's `dt` (0.05 s)
        self.nq, self.nv = int(self.mj_model.nq), int(self.mj_model.nv)
        self.obs_dim = self.nq - 1 + self.nv
        self.action_dim = int(self.mj_model.nu)
        self.action_low = self.mj_model.actuator_ctrlrange[:, 0].copy()  # the action space's bounds (NumPy)
        self.action_high = self.mj_model.actuator_ctrlrange[:, 1].copy()
        # Gymnasium's init_qpos / init_qvel: a fresh MjData's qpos (= qpos0) and zero velocities.
        self._data0 = mjx.make_data(self.model)  # as after mj_resetData: zero warm start, no controls
        self.dtype = self._data0.qpos.dtype  # float32, or float64 with jax_enable_x64
        self.init_qpos = jnp.asarray(self.mj_model.qpos0, self.dtype)
        self.init_qvel = jnp.zeros(self.nv, self.dtype)

    def observe(self, data) -> jax.Array:
        """``concat(qpos[1:], qvel)`` (the x position is left out, as in Gymnasium's default)."""
        return jnp.concatenate([data.qpos[1:], data.qvel])

    def state_from(self, qpos: jax.Array, qvel: jax.Array, key: jax.Array | None = None) -> MJXEnvState:
        """The state that Gymnasium's ``env.unwrapped.set_state(qpos, qvel)`` makes right after ``reset``: fresh
        data (zero warm start, as ``mj_resetData`` leaves it) with ``qpos [9]`` and ``qvel [9]``. ``key`` seeds
        later automatic resets.

        Gymnasium then calls ``mj_forward``; that only fills derived fields (body poses, contacts, ``qacc``), which
        every ``mj_step`` recomputes first, so it is skipped here: the next :meth:`step` is the same either way,
        and resets stay cheap inside :meth:`step_autoreset`. Call ``mjx.forward(env.model, state.data)`` if you
        need those fields of a fresh state.
        """
        chex.assert_shape(qpos, (self.nq,))
        chex.assert_shape(qvel, (self.nv,))
        data = self._data0.replace(qpos=jnp.asarray(qpos, self.dtype), qvel=jnp.asarray(qvel, self.dtype))
        key = jax.random.PRNGKey(0) if key is None else key
        return MJXEnvState(data=data, obs=self.observe(data), t=jnp.zeros((), jnp.int32), key=key)

    def reset(self, key: jax.Array) -> MJXEnvState:
        """A new episode: ``qpos = qpos0 + U(-s, s)``, ``qvel = s * N(0, 1)`` with ``s = reset_noise_scale``."""
        key, k_pos, k_vel = jax.random.split(key, 3)
        s = self.reset_noise_scale
        qpos = self.init_qpos + jax.random.uniform(k_pos, (self.nq,), minval=-s, maxval=s)
        qvel = self.init_qvel + s * jax.random.normal(k_vel, (self.nv,))
        return self.state_from(qpos, qvel, key)

    def step(self, state: MJXEnvState, action: jax.Array):
        """One env step (``frame_skip`` MuJoCo steps) with ``action [6]``.

        Returns ``(state, obs [17], reward, terminated, truncated, info)``: ``terminated`` is always False,
        ``truncated`` is True once ``max_episode_steps`` steps have been taken; ``info`` holds
        ``x_position``, ``x_velocity``, ``reward_forward`` and ``reward_ctrl`` as Gymnasium's does.
        """
        chex.assert_shape(action, (self.action_dim,))
        action = jnp.asarray(action, self.dtype)
        x_before = state.data.qpos[0]
        data = state.data.replace(ctrl=action)  # MJX clamps ctrl to ctrlrange, as MuJoCo does
        with jax.default_matmul_precision("highest"):  # full float32 physics; see the module docstring (GPU)
            data = jax.lax.fori_loop(0, self.frame_skip, lambda _, d: self._mjx.step(self.model, d), data)
        x_after = data.qpos[0]
        x_velocity = (x_after - x_before) / self.dt
        forward_reward = self.forward_reward_weight * x_velocity
        ctrl_cost = self.ctrl_cost_weight * jnp.sum(jnp.square(action))
        reward = forward_reward - ctrl_cost
        t = state.t + 1
        obs = self.observe(data)
        terminated = jnp.zeros((), bool)
        truncated = t >= self.max_episode_steps
        info = {"x_position": x_after, "x_velocity": x_velocity, "reward_forward": forward_reward, "reward_ctrl": -ctrl_cost}
        return state.replace(data=data, obs=obs, t=t), obs, reward, terminated, truncated, info

    def step_autoreset(self, state: MJXEnvState, action: jax.Array):
        """:meth:`step`, then a fresh :meth:`reset` (from ``state.key``) wherever the episode ended, as the
        Gymnasium bridge (``jirl.envs.VecEnv``) does: the returned ``obs`` is the one to act on next (the reset
        observation after an episode ended) and ``info["final_obs"]`` is the true next observation of this step,
        to bootstrap from when ``truncated``. Vmap it for many envs (the reset, a few random numbers and no
        physics, is then computed for every env and selected)."""
        state, obs, reward, terminated, truncated, info = self.step(state, action)
        done = terminated | truncated
        key, reset_key = jax.random.split(state.key)
        state = jax.lax.cond(done, lambda: self.reset(reset_key), lambda: state.replace(key=key))
        return state, state.obs, reward, terminated, truncated, {**info, "final_obs": obs}
