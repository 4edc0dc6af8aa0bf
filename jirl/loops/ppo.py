"""PPO training driver on the env reward (the learner's sanity check; GAIL reuses the rollout pieces).

Per env step: one jitted call (normalize obs, sample action, value). Per rollout: one jitted call that scales
rewards, computes ``V(final obs)``, GAE, runs ``epochs x minibatches`` PPO steps and updates the observation
statistics. Observation statistics are frozen during a rollout, so the log-probs stored at collection time
and the ones recomputed in the update see the same normalized observations.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import chex
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from jirl.algorithms import ppo
from jirl.envs.gym_bridge import HostPolicy, VecEnv, default_env_workers, run_grouped_episodes
from jirl.envs.normalize import norm_apply, norm_init, norm_update, reward_scaler_init, reward_scaler_step
from jirl.fileio import atomic_write_bytes
from jirl.loops.common import (
    BestPolicy,
    UserError,
    check_finite,
    check_ranges,
    config_to_dict,
    finish_seed_summary,
    init_per_seed,
    load_seed_checkpoint,
    open_seed_loggers,
    record_seed_evals,
    save_seed_checkpoints,
    split_seed_keys,
    make_train_and_eval_envs,
    prepare_run_dir,
    progress_bar,
    run_summary,
    seed_run_dirs,
    stack_trees,
    tree_index,
)
from jirl.nets import gaussian_log_prob, mlp_numpy_params
from jirl.policy import policy_to_bytes


@dataclasses.dataclass(frozen=True)
class PPOTrainConfig:
    """Train PPO (Gaussian policy, GAE) on a Gymnasium env's own reward."""

    env_id: str = "HalfCheetah-v5"
    """Gymnasium env id with a Box action space."""
    seed: int = 0
    """Seed of everything."""
    num_seeds: int = 1
    """Train the seeds seed, seed+1, ..., seed+K-1 as K independent agents in one compiled program (vmapped
    over seeds; K x num_envs envs). Each seed gets its own folder run_dir/seed-<S> (metrics, curve,
    checkpoint, policies) with the same results as a separate run with that seed; run_dir gets curve.png with
    every seed and summary.json with the mean and spread."""
    total_steps: int = 1_000_000
    """Env steps to train for (rounded up to whole rollouts)."""
    num_envs: int = 8
    """Parallel envs; a rollout is num_envs x ppo.num_steps transitions (default 8 x 256 = 2048)."""
    env_workers: int | None = None
    """Worker processes that collect the training rollouts, each running its envs' whole rollout (acting
    included) with one message per round (0: in this process, where HalfCheetah-v5's physics runs on 2 threads
    with >= 8 envs on >= 2 cores). Default: 2 with >= 8 envs on >= 2 cores, else 0 (JIRL_ENV_WORKERS=N sets it).
    Results are identical for any number."""
    backend: Literal["gym", "mjx"] = "gym"
    """Training envs: gym = Gymnasium through the NumPy bridge; mjx = jirl's pure-JAX twin of HalfCheetah-v5
    (needs pip install -e ".[mjx]"), so that rollout and update of a round are one compiled call on the
    device. Evaluation always runs in Gymnasium."""
    normalize_obs: bool = True
    """Normalize observations with running statistics (frozen within a rollout; saved with the policy)."""
    normalize_reward: bool = True
    """Scale rewards by the running std of the discounted return."""
    eval_every: int = 50_000
    """Evaluate the deterministic policy about every this many env steps (0: only at the end)."""
    eval_episodes: int = 10
    """Episodes per evaluation."""
    checkpoint_every: int = 100_000
    """Write a resumable checkpoint about every this many env steps (0: only at the end)."""
    run_dir: str | None = None
    """Output folder (default: runs/ppo-<env>-s<seed>)."""
    resume: bool = False
    """Continue the run in run_dir from its last checkpoint."""
    ppo: ppo.PPOConfig = ppo.PPOConfig(num_steps=256)


@chex.dataclass(frozen=True)
class Rollout:
    """Time-major rollout ``[T, N, ...]`` as collected (raw observations). ``log_prob`` (of the unclipped
    action) and ``value`` are None when the collector did not compute them (the bridge's host-side acting);
    the per-round update then computes them from ``obs`` and ``action``."""

    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    terminated: jax.Array
    episode_end: jax.Array
    final_obs: jax.Array
    log_prob: jax.Array | None = None
    value: jax.Array | None = None


PPO_RANGES = {
    "hidden": "sizes", "learning_rate": ">0", "num_steps": ">=1", "epochs": ">=1", "minibatch_size": ">=1", "gamma": "(0,1]",
    "gae_lambda": "[0,1]", "clip_eps": ">0", "vf_coef": ">=0", "max_grad_norm": ">0",
}


def rollout_sizes(cfg: PPOTrainConfig) -> tuple[int, int, int]:
    """(transitions per rollout, number of rollouts, optimizer steps in the whole run)."""
    per_rollout = cfg.num_envs * cfg.ppo.num_steps
    num_rollouts = -(-cfg.total_steps // per_rollout)
    total_updates = num_rollouts * cfg.ppo.epochs * (per_rollout // cfg.ppo.minibatch_size)
    return per_rollout, num_rollouts, total_updates


class PolicyStepper:
    """Acting through the bridge for K vmapped seeds: ``obs [K * N, D] -> action [K * N, A]`` per env step, or a
    whole rollout at once (:meth:`rollout`, what :func:`collect` uses).

    Once per round :meth:`load` draws the whole rollout's standard-normal noise ``[T, K, N, A]`` from each
    seed's key in one JAX call and copies the actor (and the observation statistics) to the host as a
    :class:`jirl.envs.gym_bridge.HostPolicy`, which forms ``mean(norm(obs)) + std * noise[t]`` in NumPy, one
    matmul chain per seed, in a way that keeps the actions independent of how the envs are split over worker processes. For 8 envs
    on a 2-core CPU a JAX dispatch per env step cost 55-67 us, batched NumPy 19-34 us (``experiments/profile_acting.py``);
    on a GPU it also avoids a device round trip per step (not measured). The rollout's log-probabilities and
    values are not computed here: the per-round update computes them from the stored observations and actions
    with the same parameters (:func:`make_rollout_update`), in one batched pass.

    ``host=False`` keeps the previous path (one jitted dispatch per step, same outputs up to float rounding),
    for profiling and the equivalence test. ``params`` and ``norm`` are stacked over seeds (leading axis K,
    see :func:`jirl.loops.common.stack_trees`); the envs of seed ``k`` are the ``k``-th block of ``num_envs``
    rows of the observations.
    """

    def __init__(self, pcfg: ppo.PPOConfig, params, norm, num_envs: int, host: bool = True):
        T, N, A = pcfg.num_steps, num_envs, ppo._action_dim(tree_index(params, 0))
        self.host = host
        self.num_envs = N
        self._draw = jax.jit(jax.vmap(lambda key: jax.random.normal(key, (T, N, A)), out_axes=1))  # -> [T, K, N, A]
        if not host:
            _, unravel = ravel_pytree(tree_index((params, norm), 0))

            def step(flat, obs, noise):
                p, n = unravel(flat)
                return ppo.action_from_noise(pcfg, p, norm_apply(n, obs), noise)[0]

            self._ravel = jax.jit(jax.vmap(lambda params, norm: ravel_pytree((params, norm))[0]))
            self._step = jax.jit(jax.vmap(step))
        self._noise = None
        self._t = 0

    def load(self, params, norm, keys: jax.Array) -> None:
        """Act with these (stacked) parameters and observation statistics for the next ``T`` steps, with noise
        drawn from ``keys [K, 2]`` (one key per seed)."""
        self._noise = np.asarray(self._draw(keys))
        self._t = 0
        if not self.host:
            self._flat = self._ravel(params, norm)
            return
        actor = jax.device_get(params["actor"]["params"])
        layers = mlp_numpy_params(jax.tree_util.tree_map(lambda x: np.asarray(x, np.float32), actor["MLP_0"]))  # [K, ...] leaves
        std = np.exp(np.asarray(actor["log_std"], np.float32))  # [K, A]
        stats = None if norm is None else [np.asarray(x, np.float32) for x in jax.device_get((norm.mean, jnp.sqrt(norm.var + 1e-8)))]
        K = len(std)
        self.policy = HostPolicy(
            layers=tuple(tuple((kernel[k], bias[k, 0]) for kernel, bias in layers) for k in range(K)),
            std=tuple(std),
            norm=None if stats is None else tuple((stats[0][k], stats[1][k]) for k in range(K)),
            rows_per_seed=self.num_envs,
        )
        self._scratch: dict = {}

    def _check_loaded(self, steps: int) -> None:
        if self._noise is None or self._t + steps > self._noise.shape[0]:
            raise RuntimeError("PolicyStepper: call load() before each rollout of ppo.num_steps steps")

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """``obs [K * N, D] -> action [K * N, A]`` (unclipped; the env receives ``clip(action, -1, 1)``)."""
        self._check_loaded(1)
        noise = self._noise[self._t]
        K = noise.shape[0]
        self._t += 1
        if not self.host:
            x = np.asarray(obs, np.float32).reshape(K, -1, obs.shape[-1])
            return np.asarray(self._step(self._flat, x, noise)).reshape(obs.shape[0], -1)
        x, noise = np.asarray(obs, np.float32), noise.reshape(obs.shape[0], -1)
        return self.policy.act_rows(0, x, noise, self._scratch)

    def rollout(self, env: VecEnv, obs: np.ndarray, num_steps: int):
        """:func:`collect` for ``num_steps`` steps in one :meth:`jirl.envs.gym_bridge.VecEnv.rollout` call (the
        host path): bit-identical to acting step by step with :meth:`__call__`."""
        if not self.host:
            raise RuntimeError("PolicyStepper.rollout needs the host path (host=True)")
        self._check_loaded(num_steps)
        if obs.shape != (env.num_envs, env.obs_dim) or not np.array_equal(obs, env.current_obs):
            raise ValueError("PolicyStepper.rollout: obs must be the env's current observations (what its last reset/step/rollout returned)")
        noise = self._noise[self._t : self._t + num_steps]
        self._t += num_steps
        arrays, next_obs, finished = env.rollout(self.policy, noise.reshape(num_steps, env.num_envs, -1))
        return Rollout(**arrays), next_obs, [(i, r) for _, i, r, _ in finished]


def make_rollout_update(pcfg: ppo.PPOConfig, total_updates: int, normalize_obs: bool, normalize_reward: bool, relabel=None, aux_loss=None):
    """The per-round jitted call: (optional) reward relabelling, reward scaling, V(final obs), GAE, the PPO
    update and the observation statistics, all in one compiled program.

    ``relabel(aux, norm, rollout, key, params) -> (aux, rewards [T, N], metrics)`` replaces the env reward (GAIL
    trains its discriminator and scores the rollout there; ``params`` are the current PPO parameters, which
    AIRL needs for log pi); ``aux`` is its state (None for plain PPO).
    ``aux_loss(params, norm, progress, key) -> scalar`` is an extra term of every PPO minibatch loss
    (``progress`` in [0, 1] is the share of the run done), e.g. GAIL's behaviour-cloning regularizer.
    Returns the function for one seed, not jitted: the driver vmaps it over seeds and jits that.
    """

    def rollout_update(state: ppo.PPOState, aux, norm, scaler, rollout: Rollout, key, policy_weight, progress):
        T, N = rollout.reward.shape
        k_relabel, k_update = jax.random.split(key)
        rewards = rollout.reward
        extra = {}
        if relabel is not None:
            aux, rewards, extra = relabel(aux, norm, rollout, k_relabel, state.params)
            chex.assert_shape(rewards, (T, N))
        if normalize_reward:
            def scale(s, xs):
                r, end = xs
                return reward_scaler_step(s, r, end, pcfg.gamma)

            scaler, rewards = jax.lax.scan(scale, scaler, (rewards, rollout.episode_end))
        obs_n = norm_apply(norm, rollout.obs)
        _, _, next_values = ppo.policy_outputs(pcfg, state.params, norm_apply(norm, rollout.final_obs))
        log_prob, values = rollout.log_prob, rollout.value
        if log_prob is None:  # acting did not compute them: same parameters and statistics, one batched pass
            mean, log_std, values = ppo.policy_outputs(pcfg, state.params, obs_n)
            log_prob = gaussian_log_prob(rollout.action, mean, log_std)
        adv, ret = ppo.compute_gae(rewards, values, next_values, rollout.terminated, rollout.episode_end, pcfg.gamma, pcfg.gae_lambda)
        flat = lambda x: x.reshape((T * N,) + x.shape[2:])
        batch = ppo.PPOBatch(obs=flat(obs_n), action=flat(rollout.action), log_prob=flat(log_prob), value=flat(values), advantage=flat(adv), ret=flat(ret))
        extra_loss = None if aux_loss is None else (lambda params, k: aux_loss(params, norm, progress, k))
        state, metrics = ppo.update(pcfg, state, batch, k_update, total_updates, policy_weight, extra_loss)
        if normalize_obs:
            norm = norm_update(norm, flat(rollout.obs))
        metrics = dict(metrics, **extra, value_target_mean=jnp.mean(ret), log_std=jnp.mean(state.params["actor"]["params"]["log_std"]))
        return state, aux, norm, scaler, metrics

    return rollout_update


def resolve_env_workers(workers: int | None, num_envs: int) -> int:
    """``--env-workers``: None picks :func:`jirl.envs.gym_bridge.default_env_workers`; a bad ``JIRL_ENV_WORKERS``
    is a :class:`UserError`."""
    if workers is not None:
        return workers
    try:
        return default_env_workers(num_envs)
    except ValueError as e:
        raise UserError(str(e)) from None


def collect(env: VecEnv, obs: np.ndarray, num_steps: int, act: Callable[[np.ndarray], np.ndarray]):
    """Step ``env`` for ``num_steps`` steps from ``obs`` with ``act(obs) -> action`` (unclipped; the env gets
    ``clip(action, -1, 1)``).

    Returns ``(rollout as NumPy [T, N, ...], next obs, finished episodes as (env index, return) pairs)``. The
    env reward is stored; GAIL relabels it inside the per-round update. With a host :class:`PolicyStepper` as
    ``act`` the whole rollout is one :meth:`PolicyStepper.rollout` call (same results; with env worker processes
    each worker then runs its envs' rollout without a message per step).
    """
    if isinstance(act, PolicyStepper) and act.host:
        return act.rollout(env, obs, num_steps)
    T, N, D, A = num_steps, env.num_envs, env.obs_dim, env.action_dim
    buf = {
        "obs": np.empty((T, N, D), np.float32),
        "action": np.empty((T, N, A), np.float32),
        "reward": np.empty((T, N), np.float32),
        "terminated": np.empty((T, N), bool),
        "episode_end": np.empty((T, N), bool),
        "final_obs": np.empty((T, N, D), np.float32),
    }
    finished = []
    for t in range(T):
        action = act(obs)
        res = env.step(np.clip(action, -1.0, 1.0))
        buf["obs"][t] = obs
        buf["action"][t] = action
        buf["reward"][t] = res.reward
        buf["terminated"][t] = res.terminated
        buf["episode_end"][t] = res.terminated | res.truncated
        buf["final_obs"][t] = res.final_obs
        finished.extend(zip(np.flatnonzero(res.terminated | res.truncated).tolist(), res.finished_returns, strict=True))
        obs = res.obs
    return Rollout(**buf), obs, finished


MJX_ENVS = ("HalfCheetah-v5",)


def make_twin(env_id: str):
    """jirl's pure-JAX twin of ``env_id`` for ``--backend mjx`` (a UserError when there is none or MJX is missing)."""
    if env_id not in MJX_ENVS:
        raise UserError(f"--backend mjx has a twin of {', '.join(MJX_ENVS)} only, not {env_id}; use --backend gym")
    from jirl.envs.mjx_halfcheetah import HalfCheetahMJX, MJXNotInstalledError

    try:
        return HalfCheetahMJX()
    except MJXNotInstalledError as e:
        raise UserError(str(e)) from None


def make_device_collect(pcfg: ppo.PPOConfig, twin, num_steps: int):
    """Collect a rollout ``[T, N]`` entirely on the device: a ``lax.scan`` over ``num_steps`` steps of policy
    sampling and the vmapped twin's ``step_autoreset``, the counterpart of :func:`collect` on the bridge.

    ``collect(params, norm, env_state [N], ep_return [N], key) -> (rollout, env_state, ep_return,
    finished_sum, finished_count)``: ``ep_return`` carries the running return of every env's episode, and the
    returns of episodes that finished in this rollout are summed and counted (for the logged train return).
    Actions are stored unclipped, clipped to [-1, 1] and rescaled to the env's bounds for the env, as the bridge does.
    """
    low, high = jnp.asarray(twin.action_low, jnp.float32), jnp.asarray(twin.action_high, jnp.float32)

    def collect_on_device(params, norm, env_state, ep_return, key):
        def body(carry, k):
            env_state, ep_return = carry
            obs = env_state.obs.astype(jnp.float32)
            action, log_prob, value = ppo.sample_action(pcfg, params, norm_apply(norm, obs), k)
            scaled = low + 0.5 * (jnp.clip(action, -1.0, 1.0) + 1.0) * (high - low)
            env_state, _, reward, terminated, truncated, info = jax.vmap(twin.step_autoreset)(env_state, scaled)
            end = terminated | truncated
            ep_return = ep_return + reward
            finished = (jnp.sum(jnp.where(end, ep_return, 0.0)), jnp.sum(end))
            row = Rollout(
                obs=obs, action=action, log_prob=log_prob, value=value, reward=reward.astype(jnp.float32), terminated=terminated,
                episode_end=end, final_obs=info["final_obs"].astype(jnp.float32),
            )
            return (env_state, jnp.where(end, 0.0, ep_return)), (row, finished)

        (env_state, ep_return), (rollout, (fin_sum, fin_n)) = jax.lax.scan(body, (env_state, ep_return), jax.random.split(key, num_steps))
        return rollout, env_state, ep_return, jnp.sum(fin_sum), jnp.sum(fin_n)

    return collect_on_device


def train(cfg: PPOTrainConfig) -> dict:
    """Train PPO on the env reward; returns the summary printed as the final JSON line."""
    return run_onpolicy(cfg, "ppo")


def run_onpolicy(cfg, algo: str, make_aux=None, relabel=None, reference_lines: dict | None = None, init_fn=None, aux_loss=None, on_finish=None) -> dict:
    """The on-policy training driver shared by PPO, GAIL and AIRL (``cfg``: a PPOTrainConfig-like dataclass).

    With ``cfg.num_seeds = K > 1`` it trains the seeds ``cfg.seed, ..., cfg.seed + K - 1`` as one batch: every
    state (agent, ``aux``, observation and reward statistics, PRNG key) carries a leading seed axis, the
    per-round update is ``jit(vmap(...))`` over it, acting is one vmapped call per env step, and the training
    env holds ``K x num_envs`` envs (seed ``k``'s block reset as a single run with that seed would reset it).
    Each seed gets the folder a single run would (``run_dir/seed-<S>``: config, metrics, evaluations, curve,
    TensorBoard logs, checkpoint, policies); ``run_dir`` gets the combined checkpoint (what ``--resume`` reads),
    ``curve.png`` with every seed and their mean, and ``summary.json``.

    ``make_aux(seed) -> aux`` and ``relabel`` (see :func:`make_rollout_update`) turn it into an imitation
    learner; ``aux`` is checkpointed with the rest. ``reference_lines`` (name -> return) are drawn on the
    learning curves and, when both ``expert`` and ``random`` are given, evaluations also log the normalized
    score. ``init_fn(states, norms, seeds) -> (states, norms, [info dict per seed])`` changes the fresh agents
    (stacked over seeds) before training (GAIL's behaviour-cloning start; not called on resume); each ``info``
    goes into its seed's summary. With ``cfg.critic_warmup_rounds = R`` (when the config has it) the first R
    rounds train only the critic. ``aux_loss``: see :func:`make_rollout_update`.
    ``on_finish(aux, norm, run_dir, seed) -> dict`` runs per seed after the final checkpoint (AIRL saves its
    learned reward there); its dict goes into that seed's summary.
    """
    pcfg = cfg.ppo
    K = getattr(cfg, "num_seeds", 1)
    for name in ("total_steps", "num_envs", "eval_episodes", "num_seeds"):
        if getattr(cfg, name, 1) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(cfg, name)}")
    check_ranges("ppo", pcfg, PPO_RANGES)
    per_rollout, num_rollouts, total_updates = rollout_sizes(cfg)
    if per_rollout % pcfg.minibatch_size:
        raise UserError(f"num_envs x ppo.num_steps = {per_rollout} must be a multiple of --ppo.minibatch-size {pcfg.minibatch_size}")
    N, E = cfg.num_envs, cfg.eval_episodes
    seeds = [cfg.seed + k for k in range(K)]
    run_dir = prepare_run_dir(cfg.run_dir or str(Path("runs") / f"{algo}-{cfg.env_id}-s{cfg.seed}" + (f"-x{K}" if K > 1 else "")), cfg.resume)
    dirs = seed_run_dirs(run_dir, seeds)
    backend = getattr(cfg, "backend", "gym")
    twin = make_twin(cfg.env_id) if backend == "mjx" else None
    env, eval_env = make_train_and_eval_envs(cfg.env_id, 1 if twin else K * N, K * E, cfg.seed, 0 if twin else resolve_env_workers(cfg.env_workers, K * N))
    obs_dim, action_dim = env.obs_dim, env.action_dim
    if twin is not None:  # the twin steps the training envs; Gymnasium only evaluates
        env.close()
        env = None

    key = jnp.stack([jax.random.PRNGKey(s) for s in seeds])
    key, k_init = split_seed_keys(key, 2)
    state = init_per_seed(lambda k: ppo.init(pcfg, k, obs_dim, action_dim, total_updates), k_init)
    norm = stack_trees([norm_init(obs_dim)] * K) if cfg.normalize_obs else None
    scaler = stack_trees([reward_scaler_init(N)] * K) if cfg.normalize_reward else None
    aux = stack_trees([make_aux(s) for s in seeds]) if make_aux is not None else None
    rollout_idx, elapsed_before = 0, 0.0
    refs = reference_lines or {}
    seed_config = lambda k: dataclasses.replace(cfg, seed=seeds[k], run_dir=str(dirs[k]), **({"num_seeds": 1} if K > 1 else {}))
    if cfg.resume:
        tree, meta = load_seed_checkpoint(run_dir, {"ppo": state, "aux": aux, "norm": norm, "scaler": scaler, "key": key}, K)
        state, aux, norm, scaler, key = tree["ppo"], tree["aux"], tree["norm"], tree["scaler"], tree["key"]
        rollout_idx, elapsed_before = int(meta["rollout"]), float(meta["wall_s"])
    loggers = open_seed_loggers(
        cfg, run_dir, dirs, seeds, f"{algo.upper()} on {cfg.env_id}", refs, seed_config, rollout_idx * per_rollout if cfg.resume else None
    )
    init_info = [{} for _ in seeds]
    if init_fn is not None and not cfg.resume:
        state, norm, init_info = init_fn(state, norm, seeds)
        for logger, info in zip(loggers, init_info, strict=True):
            logger.log_metrics(0, info)
    warmup_rounds = getattr(cfg, "critic_warmup_rounds", 0)

    update_one = make_rollout_update(pcfg, total_updates, cfg.normalize_obs, cfg.normalize_reward, relabel, aux_loss)
    if twin is None:
        stepper = PolicyStepper(pcfg, state.params, norm, N)
        rollout_update = jax.jit(jax.vmap(update_one, in_axes=(0, 0, 0, 0, 0, 0, None, None)))
    else:
        collect_one = make_device_collect(pcfg, twin, pcfg.num_steps)

        def device_round(state, aux, norm, scaler, env_state, ep_return, key, policy_weight, progress):
            """One whole round on the device: rollout in the twin, then the same update as the bridge path."""
            k_collect, k_update = jax.random.split(key)
            rollout, env_state, ep_return, fin_sum, fin_n = collect_one(state.params, norm, env_state, ep_return, k_collect)
            state, aux, norm, scaler, metrics = update_one(state, aux, norm, scaler, rollout, k_update, policy_weight, progress)
            return state, aux, norm, scaler, env_state, ep_return, fin_sum, fin_n, metrics

        device_round = jax.jit(jax.vmap(device_round, in_axes=(0, 0, 0, 0, 0, 0, 0, None, None)))

        def twin_reset(idx: int):
            """Every seed's N twin envs, freshly reset (from the seed and the round, like the bridge's resets)."""
            keys = jnp.stack([jax.random.split(jax.random.fold_in(jax.random.PRNGKey(s), 1_000_003 + idx), N) for s in seeds])
            return jax.vmap(jax.vmap(twin.reset))(keys), jnp.zeros((K, N), jnp.float32)

    act_det_one = lambda p, n, o: jnp.clip(ppo.policy_outputs(pcfg, p, norm_apply(n, o))[0], -1.0, 1.0)
    act_det = jax.jit(jax.vmap(act_det_one))
    start = time.time()

    curve = {"path": run_dir / "curve.png", "seeds": seeds, "title": f"{algo.upper()} on {cfg.env_id}", "reference_lines": refs}
    bests = [BestPolicy(d, rollout_idx * per_rollout if cfg.resume else None) for d in dirs]

    def policy_bytes(k: int, meta: dict) -> bytes:
        meta = {"env_id": cfg.env_id, "algorithm": algo, "seed": seeds[k], **meta, "config": config_to_dict(seed_config(k))}
        return policy_to_bytes("gaussian", tree_index(state.params["actor"], k), pcfg.hidden, obs_dim, action_dim, tree_index(norm, k), meta)

    def evaluate(step: int) -> list[dict]:
        act = lambda o: np.asarray(act_det(state.params, norm, jnp.asarray(o).reshape(K, E, -1))).reshape(K * E, -1)
        returns = run_grouped_episodes(eval_env, act, [s + 10_000 for s in seeds])
        return record_seed_evals(step, returns, loggers, bests, policy_bytes, curve)

    def checkpoint() -> None:
        meta = {"rollout": rollout_idx, "step": rollout_idx * per_rollout, "wall_s": elapsed_before + time.time() - start}
        save_seed_checkpoints(run_dir, dirs, {"ppo": state, "aux": aux, "norm": norm, "scaler": scaler, "key": key}, meta)

    if twin is None:
        obs = env.reset(seeds=[s + rollout_idx + i for s in seeds for i in range(N)])  # seed k's block as a single run resets it
    else:
        env_state, ep_return = twin_reset(rollout_idx)
        # Commit every input of device_round to one device: eager results are "uncommitted" and jit outputs
        # committed, and a mix compiles the (large) round twice (seen: 2 x 41 s on a CPU).
        dev = jax.devices()[0]
        state, aux, norm, scaler, env_state, ep_return, key = jax.device_put((state, aux, norm, scaler, env_state, ep_return, key), dev)
    bar = progress_bar(K * num_rollouts * per_rollout, initial=K * rollout_idx * per_rollout, desc=f"{algo.upper()} {cfg.env_id}" + (f" x{K} seeds" if K > 1 else ""))
    last_eval = [lg.eval_history[-1]["mean_return"] if lg.eval_history else float("nan") for lg in loggers]
    if init_fn is not None and not cfg.resume:
        last_eval = [r["mean_return"] for r in evaluate(0)]  # where the changed agents start
    every = lambda n: max(1, round(n / per_rollout)) if n else 0
    to_seeds = lambda x: jnp.asarray(np.moveaxis(x.reshape(x.shape[0], K, N, *x.shape[2:]), 1, 0))  # [T, K*N, ...] -> [K, T, N, ...]
    try:
        while rollout_idx < num_rollouts:
            t0 = time.time()
            weight, progress = jnp.float32(rollout_idx >= warmup_rounds), jnp.float32(rollout_idx / num_rollouts)
            if twin is None:
                key, k_act, k = split_seed_keys(key, 3)
                stepper.load(state.params, norm, k_act)
                rollout, obs, finished = collect(env, obs, pcfg.num_steps, stepper)
                collect_s = time.time() - t0
                state, aux, norm, scaler, metrics = rollout_update(state, aux, norm, scaler, jax.tree_util.tree_map(to_seeds, rollout), k, weight, progress)
                train_sums = [[r for i, r in finished if i // N == k] for k in range(K)]
                train_sums = [(sum(t), len(t)) for t in train_sums]
            else:
                key, k = split_seed_keys(key, 2)
                state, aux, norm, scaler, env_state, ep_return, fin_sum, fin_n, metrics = device_round(
                    state, aux, norm, scaler, env_state, ep_return, k, *jax.device_put((weight, progress), dev)
                )
                train_sums = list(zip(np.asarray(fin_sum).tolist(), np.asarray(fin_n).tolist(), strict=True))
            rollout_idx += 1
            step = rollout_idx * per_rollout
            metrics = jax.device_get(metrics)
            round_s = time.time() - t0
            sps = per_rollout / round_s
            rows = []
            for k in range(K):
                row = {name: float(v[k]) for name, v in metrics.items()}
                check_finite(row, step, dirs[k])
                row["steps_per_s"] = sps
                if twin is None:  # where a bridge round's time goes: acting + env stepping vs the jitted update
                    row["collect_s"], row["update_s"] = collect_s, round_s - collect_s
                if train_sums[k][1]:
                    row["train_return"] = float(train_sums[k][0] / train_sums[k][1])
                loggers[k].log_metrics(step, row)
                rows.append(row)
            bar.update(K * per_rollout)
            if cfg.eval_every and rollout_idx % every(cfg.eval_every) == 0 and rollout_idx < num_rollouts:
                last_eval = [r["mean_return"] for r in evaluate(step)]
            train_returns = [r["train_return"] for r in rows if "train_return" in r]
            postfix = {"eval_return": f"{np.mean(last_eval):,.0f}", "env_return": f"{np.mean(train_returns) if train_returns else float('nan'):,.0f}"}
            if "disc_acc_expert" in metrics:
                postfix["disc_acc"] = f"{0.5 * (np.mean(metrics['disc_acc_expert']) + np.mean(metrics['disc_acc_policy'])):.2f}"
            bar.set_postfix(postfix, refresh=False)
            if cfg.checkpoint_every and rollout_idx % every(cfg.checkpoint_every) == 0 and rollout_idx < num_rollouts:
                checkpoint()
    finally:
        bar.close()
        if env is not None:
            env.close()

    step = rollout_idx * per_rollout
    final = evaluate(step)
    checkpoint()
    for k, d in enumerate(dirs):
        atomic_write_bytes(d / "policy.msgpack", policy_bytes(k, {"env_steps": step, "eval_mean_return": final[k]["mean_return"]}))
        loggers[k].close()
    wall_s = elapsed_before + time.time() - start
    report_env = eval_env if K == 1 else make_train_and_eval_envs(cfg.env_id, 1, E, cfg.seed)[1]
    per_seed = []
    for k, d in enumerate(dirs):
        best_info = bests[k].report(report_env, 2 * E, seeds[k] + 20_000, refs)
        finish_info = on_finish(tree_index(aux, k), tree_index(norm, k), d, seeds[k]) if on_finish is not None else {}
        per_seed.append(dict(run_summary(final[k], step, wall_s, d), **({"seed": seeds[k]} if K > 1 else {}), **init_info[k], **best_info, **finish_info))
    eval_env.close()
    if report_env is not eval_env:
        report_env.close()
    return finish_seed_summary(per_seed, seeds, step, wall_s, run_dir)
