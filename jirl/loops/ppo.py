"""PPO training driver on the env reward (the learner's sanity check; GAIL reuses the rollout pieces).

Per env step: one jitted call (normalize obs, sample action, value). Per rollout: one jitted call that scales
rewards, computes ``V(final obs)``, GAE, runs ``epochs x minibatches`` PPO steps and updates the observation
statistics. Observation statistics are frozen during a rollout, so the log-probs stored at collection time
and the ones recomputed in the update see the same normalized observations.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import chex
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from jirl.algorithms import ppo
from jirl.envs.gym_bridge import VecEnv, run_episodes
from jirl.envs.normalize import norm_apply, norm_init, norm_update, reward_scaler_init, reward_scaler_step
from jirl.fileio import atomic_write_bytes
from jirl.loops.common import (
    BestPolicy,
    RunLogger,
    UserError,
    check_finite,
    config_to_dict,
    load_checkpoint,
    make_train_and_eval_envs,
    prepare_run_dir,
    progress_bar,
    run_summary,
    save_checkpoint,
    to_float_dict,
)
from jirl.policy import policy_to_bytes


@dataclasses.dataclass(frozen=True)
class PPOTrainConfig:
    """Train PPO (Gaussian policy, GAE) on a Gymnasium env's own reward."""

    env_id: str = "HalfCheetah-v5"
    """Gymnasium env id with a Box action space."""
    seed: int = 0
    """Seed of everything."""
    total_steps: int = 1_000_000
    """Env steps to train for (rounded up to whole rollouts)."""
    num_envs: int = 8
    """Parallel envs; a rollout is num_envs x ppo.num_steps transitions (default 8 x 256 = 2048)."""
    env_workers: int = 0
    """Worker processes that step the training envs in parallel (0: in this process). Worth it when env
    stepping dominates (many envs, spare cores); results are identical either way."""
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
    """Time-major rollout ``[T, N, ...]`` as collected (raw observations)."""

    obs: jax.Array
    action: jax.Array
    log_prob: jax.Array
    value: jax.Array
    reward: jax.Array
    terminated: jax.Array
    episode_end: jax.Array
    final_obs: jax.Array


def rollout_sizes(cfg: PPOTrainConfig) -> tuple[int, int, int]:
    """(transitions per rollout, number of rollouts, optimizer steps in the whole run)."""
    per_rollout = cfg.num_envs * cfg.ppo.num_steps
    num_rollouts = -(-cfg.total_steps // per_rollout)
    total_updates = num_rollouts * cfg.ppo.epochs * (per_rollout // cfg.ppo.minibatch_size)
    return per_rollout, num_rollouts, total_updates


class PolicyStepper:
    """Acting with one small dispatch per env step.

    Each JAX dispatch costs on the order of 100 us on a 2-core CPU (``experiments/profile_acting.py``), so the
    PRNG key stays on the device (splitting it on the host would be a second dispatch per step), and once per
    round :meth:`load` ravels ``(params, norm)`` into one vector that each :meth:`__call__` passes along with
    the observations and the key.
    """

    def __init__(self, pcfg: ppo.PPOConfig, params, norm, key: chex.PRNGKey):
        _, self._unravel = ravel_pytree((params, norm))
        unravel = self._unravel

        def step(flat, obs, key):
            p, n = unravel(flat)
            key, k = jax.random.split(key)
            action, log_prob, value = ppo.sample_action(pcfg, p, norm_apply(n, obs), k)
            return key, jnp.concatenate([action, log_prob[:, None], value[:, None]], axis=-1)

        self._ravel = jax.jit(lambda params, norm: ravel_pytree((params, norm))[0])
        self._step = jax.jit(step)
        self.key = key
        self.load(params, norm)

    def load(self, params, norm) -> None:
        """Use these parameters and observation statistics from now on."""
        self._flat = self._ravel(params, norm)

    def __call__(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``obs [N, D] -> (action [N, A] unclipped, log_prob [N], value [N])`` as NumPy arrays."""
        self.key, out = self._step(self._flat, obs, self.key)
        out = np.asarray(out)
        return out[:, :-2], out[:, -2], out[:, -1]


def make_rollout_update(pcfg: ppo.PPOConfig, total_updates: int, normalize_obs: bool, normalize_reward: bool, relabel=None, aux_loss=None):
    """The per-round jitted call: (optional) reward relabelling, reward scaling, V(final obs), GAE, the PPO
    update and the observation statistics, all in one compiled program.

    ``relabel(aux, norm, rollout, key, params) -> (aux, rewards [T, N], metrics)`` replaces the env reward (GAIL
    trains its discriminator and scores the rollout there; ``params`` are the current PPO parameters, which
    AIRL needs for log pi); ``aux`` is its state (None for plain PPO).
    ``aux_loss(params, norm, progress, key) -> scalar`` is an extra term of every PPO minibatch loss
    (``progress`` in [0, 1] is the share of the run done), e.g. GAIL's behaviour-cloning regularizer.
    """

    @jax.jit
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
        adv, ret = ppo.compute_gae(rewards, rollout.value, next_values, rollout.terminated, rollout.episode_end, pcfg.gamma, pcfg.gae_lambda)
        flat = lambda x: x.reshape((T * N,) + x.shape[2:])
        batch = ppo.PPOBatch(obs=flat(obs_n), action=flat(rollout.action), log_prob=flat(rollout.log_prob), value=flat(rollout.value), advantage=flat(adv), ret=flat(ret))
        extra_loss = None if aux_loss is None else (lambda params, k: aux_loss(params, norm, progress, k))
        state, metrics = ppo.update(pcfg, state, batch, k_update, total_updates, policy_weight, extra_loss)
        if normalize_obs:
            norm = norm_update(norm, flat(rollout.obs))
        metrics = dict(metrics, **extra, value_target_mean=jnp.mean(ret), log_std=jnp.mean(state.params["actor"]["params"]["log_std"]))
        return state, aux, norm, scaler, metrics

    return rollout_update


def collect(env: VecEnv, obs: np.ndarray, num_steps: int, act: Callable[[np.ndarray], tuple]):
    """Step ``env`` for ``num_steps`` steps from ``obs`` with ``act(obs) -> (action, log_prob, value)``.

    Returns ``(rollout as NumPy [T, N, ...], next obs, finished episode returns)``. The env reward is stored;
    GAIL relabels it inside the per-round update.
    """
    T, N, D, A = num_steps, env.num_envs, env.obs_dim, env.action_dim
    buf = {
        "obs": np.empty((T, N, D), np.float32),
        "action": np.empty((T, N, A), np.float32),
        "log_prob": np.empty((T, N), np.float32),
        "value": np.empty((T, N), np.float32),
        "reward": np.empty((T, N), np.float32),
        "terminated": np.empty((T, N), bool),
        "episode_end": np.empty((T, N), bool),
        "final_obs": np.empty((T, N, D), np.float32),
    }
    finished = []
    for t in range(T):
        action, log_prob, value = act(obs)
        res = env.step(np.clip(action, -1.0, 1.0))
        buf["obs"][t] = obs
        buf["action"][t] = action
        buf["log_prob"][t] = log_prob
        buf["value"][t] = value
        buf["reward"][t] = res.reward
        buf["terminated"][t] = res.terminated
        buf["episode_end"][t] = res.terminated | res.truncated
        buf["final_obs"][t] = res.final_obs
        finished.extend(res.finished_returns)
        obs = res.obs
    return Rollout(**buf), obs, finished


def train(cfg: PPOTrainConfig) -> dict:
    """Train PPO on the env reward; returns the summary printed as the final JSON line."""
    return run_onpolicy(cfg, "ppo")


def run_onpolicy(cfg, algo: str, aux: Any = None, relabel=None, reference_lines: dict | None = None, init_fn=None, aux_loss=None, on_finish=None) -> dict:
    """The on-policy training driver shared by PPO and GAIL (``cfg``: a PPOTrainConfig-like dataclass).

    ``aux``/``relabel`` (see :func:`make_rollout_update`) turn it into an imitation learner; ``aux`` is
    checkpointed with the rest. ``reference_lines`` (name -> return) are drawn on the learning curve and,
    when both ``expert`` and ``random`` are given, evaluations also log the normalized score.
    ``init_fn(state, norm) -> (state, norm, info dict)`` changes the fresh agent before training (GAIL's
    behaviour-cloning start; not called on resume); ``info`` goes into the summary. With
    ``cfg.critic_warmup_rounds = K`` (when the config has it) the first K rounds train only the critic.
    ``aux_loss``: see :func:`make_rollout_update`. ``on_finish(aux, norm, run_dir) -> dict`` runs after the
    final checkpoint (AIRL saves its learned reward there); its dict goes into the summary.
    """
    pcfg = cfg.ppo
    for name in ("total_steps", "num_envs", "eval_episodes"):
        if getattr(cfg, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(cfg, name)}")
    per_rollout, num_rollouts, total_updates = rollout_sizes(cfg)
    if per_rollout % pcfg.minibatch_size:
        raise UserError(f"num_envs x ppo.num_steps = {per_rollout} must be a multiple of --ppo.minibatch-size {pcfg.minibatch_size}")
    run_dir = prepare_run_dir(cfg.run_dir or str(Path("runs") / f"{algo}-{cfg.env_id}-s{cfg.seed}"), cfg.resume)
    env, eval_env = make_train_and_eval_envs(cfg.env_id, cfg.num_envs, cfg.eval_episodes, cfg.seed, cfg.env_workers)

    key = jax.random.PRNGKey(cfg.seed)
    key, k_init = jax.random.split(key)
    state = ppo.init(pcfg, k_init, env.obs_dim, env.action_dim, total_updates)
    norm = norm_init(env.obs_dim) if cfg.normalize_obs else None
    scaler = reward_scaler_init(cfg.num_envs) if cfg.normalize_reward else None
    rollout_idx, elapsed_before = 0, 0.0
    refs = reference_lines or {}
    logger = RunLogger(run_dir, f"{algo.upper()} on {cfg.env_id} (seed {cfg.seed})", reference_lines=refs)
    if cfg.resume:
        tree, meta = load_checkpoint(run_dir, {"ppo": state, "aux": aux, "norm": norm, "scaler": scaler, "key": key})
        state, aux, norm, scaler, key = tree["ppo"], tree["aux"], tree["norm"], tree["scaler"], tree["key"]
        rollout_idx, elapsed_before = int(meta["rollout"]), float(meta["wall_s"])
        logger.truncate_after(rollout_idx * per_rollout)
        print(f"resumed {run_dir} at env step {rollout_idx * per_rollout:,}", flush=True)
    else:
        (run_dir / "config.json").write_text(json.dumps(config_to_dict(cfg), indent=2))
    init_info = {}
    if init_fn is not None and not cfg.resume:
        state, norm, init_info = init_fn(state, norm)
        logger.log_metrics(0, init_info)
    warmup_rounds = getattr(cfg, "critic_warmup_rounds", 0)

    stepper = PolicyStepper(pcfg, state.params, norm, key)
    rollout_update = make_rollout_update(pcfg, total_updates, cfg.normalize_obs, cfg.normalize_reward, relabel, aux_loss)
    act_det = jax.jit(lambda p, n, o: jnp.clip(ppo.policy_outputs(pcfg, p, norm_apply(n, o))[0], -1.0, 1.0))
    start = time.time()

    best = BestPolicy(run_dir, rollout_idx * per_rollout if cfg.resume else None)

    def policy_bytes(meta: dict) -> bytes:
        meta = {"env_id": cfg.env_id, "algorithm": algo, "seed": cfg.seed, **meta, "config": config_to_dict(cfg)}
        return policy_to_bytes("gaussian", state.params["actor"], pcfg.hidden, env.obs_dim, env.action_dim, norm, meta)

    def evaluate(step: int) -> dict:
        returns, _, _ = run_episodes(eval_env, lambda o: act_det(state.params, norm, jnp.asarray(o)), cfg.eval_episodes, seed=cfg.seed + 10_000)
        row = logger.log_eval(step, returns)
        best.offer(step, row["mean_return"], policy_bytes)
        return row

    def checkpoint() -> None:
        meta = {"rollout": rollout_idx, "step": rollout_idx * per_rollout, "wall_s": elapsed_before + time.time() - start}
        save_checkpoint(run_dir, {"ppo": state, "aux": aux, "norm": norm, "scaler": scaler, "key": key}, meta)

    obs = env.reset(seed=cfg.seed + rollout_idx)
    bar = progress_bar(num_rollouts * per_rollout, initial=rollout_idx * per_rollout, desc=f"{algo.upper()} {cfg.env_id}")
    last_eval = logger.eval_history[-1]["mean_return"] if logger.eval_history else float("nan")
    if init_fn is not None and not cfg.resume:
        last_eval = evaluate(0)["mean_return"]  # where the changed agent starts
    every = lambda n: max(1, round(n / per_rollout)) if n else 0
    try:
        while rollout_idx < num_rollouts:
            t0 = time.time()
            key, stepper.key, k = jax.random.split(key, 3)
            stepper.load(state.params, norm)
            rollout, obs, finished = collect(env, obs, pcfg.num_steps, stepper)
            state, aux, norm, scaler, metrics = rollout_update(
                state, aux, norm, scaler, jax.tree_util.tree_map(jnp.asarray, rollout), k, jnp.float32(rollout_idx >= warmup_rounds), jnp.float32(rollout_idx / num_rollouts)
            )
            rollout_idx += 1
            step = rollout_idx * per_rollout
            row = to_float_dict(metrics)
            check_finite(row, step, run_dir)
            row["steps_per_s"] = per_rollout / (time.time() - t0)
            if finished:
                row["train_return"] = float(np.mean(finished))
            logger.log_metrics(step, row)
            bar.update(per_rollout)
            if cfg.eval_every and rollout_idx % every(cfg.eval_every) == 0 and rollout_idx < num_rollouts:
                last_eval = evaluate(step)["mean_return"]
            postfix = {"eval_return": f"{last_eval:,.0f}", "env_return": f"{row.get('train_return', float('nan')):,.0f}"}
            if "disc_acc_expert" in row:
                postfix["disc_acc"] = f"{0.5 * (row['disc_acc_expert'] + row['disc_acc_policy']):.2f}"
            bar.set_postfix(postfix, refresh=False)
            if cfg.checkpoint_every and rollout_idx % every(cfg.checkpoint_every) == 0 and rollout_idx < num_rollouts:
                checkpoint()
    finally:
        bar.close()
        env.close()

    step = rollout_idx * per_rollout
    final = evaluate(step)
    checkpoint()
    atomic_write_bytes(run_dir / "policy.msgpack", policy_bytes({"env_steps": step, "eval_mean_return": final["mean_return"]}))
    logger.close()
    wall_s = elapsed_before + time.time() - start
    best_info = best.report(eval_env, 2 * cfg.eval_episodes, cfg.seed + 20_000, refs)
    finish_info = on_finish(aux, norm, run_dir) if on_finish is not None else {}
    return dict(run_summary(final, step, wall_s, run_dir), **init_info, **best_info, **finish_info)
