"""SAC training driver: steps the vector env, calls one jitted function per env step (add the transition to
the replay buffer, run ``updates_per_step`` fused SAC updates, pick the next action), evaluates, logs,
checkpoints, and resumes.

Resume semantics: a checkpoint holds the SAC state, the replay buffer (``buffer-<step>.npz``), the observation
normalizer, the PRNG key and the step counter. ``--resume`` restores all of them and restarts the episodes
that were in progress (env simulator state is not checkpointed), so a resumed run differs from an
uninterrupted one only by those restarted episodes.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jirl.algorithms import sac
from jirl.buffers import Transition, buffer_add, buffer_from_numpy, buffer_init, buffer_to_numpy
from jirl.envs.gym_bridge import run_episodes
from jirl.envs.normalize import norm_apply, norm_init, norm_update
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
class SACTrainConfig:
    """Train a SAC agent on a Gymnasium env (defaults: the run that made the shipped HalfCheetah expert)."""

    env_id: str = "HalfCheetah-v5"
    """Gymnasium env id with a Box action space."""
    seed: int = 0
    """Seed of everything (network init, exploration, env resets)."""
    total_steps: int = 1_000_000
    """Env steps to train for."""
    learning_starts: int = 5_000
    """Env steps of uniform random actions before the first update."""
    buffer_size: int = 1_000_000
    """Replay buffer capacity (transitions)."""
    updates_per_step: int = 1
    """Gradient updates per env step (update-to-data ratio)."""
    num_envs: int = 1
    """Parallel envs; each env step then adds num_envs transitions and runs num_envs*updates_per_step updates."""
    normalize_obs: bool = False
    """Normalize observations with running statistics (saved with the policy)."""
    eval_every: int = 25_000
    """Evaluate the deterministic policy every this many env steps (0: only at the end)."""
    eval_episodes: int = 10
    """Episodes per evaluation (run in parallel envs)."""
    log_every: int = 1_000
    """Write training metrics every this many env steps."""
    checkpoint_every: int = 50_000
    """Write a resumable checkpoint every this many env steps (0: only at the end)."""
    run_dir: str | None = None
    """Output folder (default: runs/sac-<env>-s<seed>)."""
    resume: bool = False
    """Continue the run in run_dir from its last checkpoint."""
    sac: sac.SACConfig = sac.SACConfig()


METRIC_NAMES = ("critic_loss", "actor_loss", "alpha_loss", "alpha", "entropy", "q_mean")


def default_run_dir(prefix: str, env_id: str, seed: int) -> str:
    return os.path.join("runs", f"{prefix}-{env_id}-s{seed}")


def _example_transition(obs_dim: int, action_dim: int) -> Transition:
    z = jnp.zeros((), jnp.float32)
    return Transition(obs=jnp.zeros(obs_dim), action=jnp.zeros(action_dim), reward=z, next_obs=jnp.zeros(obs_dim), terminated=z)


def _validate(cfg: SACTrainConfig) -> None:
    for name in ("total_steps", "buffer_size", "updates_per_step", "num_envs", "eval_episodes", "log_every"):
        if getattr(cfg, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(cfg, name)}")
    if cfg.learning_starts < 0:
        raise UserError(f"--learning-starts must be >= 0, got {cfg.learning_starts}")
    if cfg.buffer_size < cfg.num_envs:
        raise UserError("--buffer-size must be at least --num-envs")


@dataclasses.dataclass(frozen=True)
class OffPolicyImitation:
    """Turns the SAC driver into an off-policy imitation learner (DAC-style GAIL).

    ``aux`` is the imitation state (e.g. a discriminator), checkpointed with the run. Inside the per-step jitted
    call, ``aux_update(aux, norm, buffer, key) -> (aux, metrics)`` runs first (it may only *read* the buffer),
    then the SAC updates use ``reward_fn(aux, norm, batches) -> rewards`` instead of the env reward.
    """

    name: str
    aux: Any
    aux_update: Callable
    reward_fn: Callable
    metric_names: tuple[str, ...]
    reference_lines: dict = dataclasses.field(default_factory=dict)


def train(cfg: SACTrainConfig, imitation: OffPolicyImitation | None = None) -> dict:
    """Train; returns the summary dict that the script prints as its final JSON line."""
    _validate(cfg)
    algo = imitation.name if imitation else "sac"
    run_dir = prepare_run_dir(cfg.run_dir or default_run_dir(algo, cfg.env_id, cfg.seed), cfg.resume)
    env, eval_env = make_train_and_eval_envs(cfg.env_id, cfg.num_envs, cfg.eval_episodes, cfg.seed)
    obs_dim, action_dim = env.obs_dim, env.action_dim
    scfg = cfg.sac

    key = jax.random.PRNGKey(cfg.seed)
    key, k_init = jax.random.split(key)
    state = sac.init(scfg, k_init, obs_dim, action_dim)
    norm = norm_init(obs_dim) if cfg.normalize_obs else None
    example = _example_transition(obs_dim, action_dim)
    step = 0
    start_time = time.time()
    elapsed_before = 0.0

    aux = imitation.aux if imitation else None
    refs = imitation.reference_lines if imitation else {}
    logger = RunLogger(run_dir, f"{algo.upper()} on {cfg.env_id} (seed {cfg.seed})", reference_lines=refs)
    if cfg.resume:
        template = {"sac": state, "norm": norm, "key": key, "aux": aux}
        tree, meta = load_checkpoint(run_dir, template)
        state, norm, key, aux = tree["sac"], tree["norm"], tree["key"], tree["aux"]
        step, elapsed_before = int(meta["step"]), float(meta["wall_s"])
        with np.load(run_dir / meta["buffer_file"], allow_pickle=False) as z:
            buffer = buffer_from_numpy(example, cfg.buffer_size, {k: z[k] for k in z.files})
        logger.truncate_after(step)
        print(f"resumed {run_dir} at env step {step:,}", flush=True)
    else:
        buffer = buffer_init(example, cfg.buffer_size)
        (run_dir / "config.json").write_text(json.dumps(config_to_dict(cfg), indent=2))

    np_rng = np.random.default_rng(cfg.seed + step)

    # --- the jitted functions -------------------------------------------------------------------------
    n_updates = cfg.updates_per_step * cfg.num_envs

    @functools.partial(jax.jit, donate_argnums=(0,))
    def add_only(buffer, transition, norm):
        if norm is not None:
            norm = norm_update(norm, transition.obs)
        return buffer_add(buffer, transition), norm

    metric_names = METRIC_NAMES + (imitation.metric_names if imitation else ())

    @functools.partial(jax.jit, donate_argnums=(0, 3, 4, 5))
    def train_step(state, buffer, norm, key, metrics_sum, aux, next_obs):
        """Run the updates on the buffer, accumulate metrics, act on ``next_obs [N, obs_dim]``.

        The state, key and metric sums are donated and carried. The buffer is only read here: adding to it
        is a separate donated call (``add_only``), because XLA copies a 170 MB buffer that is both updated and
        read inside the update loop.
        """
        key, k_aux, k_update, k_act = jax.random.split(key, 4)
        reward_fn = None
        if imitation is not None:
            aux, aux_metrics = imitation.aux_update(aux, norm, buffer, k_aux)
            reward_fn = functools.partial(imitation.reward_fn, aux, norm)
        state, metrics = sac.update_from_buffer(scfg, state, buffer, k_update, n_updates, norm, reward_fn)
        if imitation is not None:
            metrics = dict(metrics, **aux_metrics)
        metrics_sum = jax.tree_util.tree_map(jnp.add, metrics_sum, metrics)
        action = sac.act(scfg, state.actor_params, norm_apply(norm, next_obs), k_act, deterministic=False)
        return state, norm, key, metrics_sum, aux, action

    @jax.jit
    def act_fn(actor_params, norm, obs, key):
        """Stochastic action; used for the first learner step (e.g. right after a resume)."""
        return sac.act(scfg, actor_params, norm_apply(norm, obs), key, deterministic=False)

    act_det = jax.jit(lambda p, n, o: sac.act(scfg, p, norm_apply(n, o), jax.random.PRNGKey(0), True))

    best = BestPolicy(run_dir, step if cfg.resume else None)

    def policy_bytes(meta: dict) -> bytes:
        meta = {"env_id": cfg.env_id, "algorithm": algo, "seed": cfg.seed, **meta, "config": config_to_dict(cfg)}
        return policy_to_bytes("tanh_gaussian", state.actor_params, scfg.hidden, obs_dim, action_dim, norm, meta)

    def evaluate(at_step: int) -> dict:
        returns, _, _ = run_episodes(eval_env, lambda o: act_det(state.actor_params, norm, jnp.asarray(o)), cfg.eval_episodes, seed=cfg.seed + 10_000)
        row = logger.log_eval(at_step, returns)
        best.offer(at_step, row["mean_return"], policy_bytes)
        return row

    def checkpoint(at_step: int) -> None:
        buf_name = f"buffer-{at_step}.npz"
        tmp = run_dir / f".{buf_name}.tmp.npz"
        np.savez(tmp, **buffer_to_numpy(buffer))
        os.replace(tmp, run_dir / buf_name)
        meta = {"step": at_step, "wall_s": elapsed_before + time.time() - start_time, "buffer_file": buf_name, "config": config_to_dict(cfg)}
        save_checkpoint(run_dir, {"sac": state, "norm": norm, "key": key, "aux": aux}, meta)
        for old in run_dir.glob("buffer-*.npz"):
            if old.name != buf_name:
                old.unlink()

    # --- the loop ---------------------------------------------------------------------------------------
    obs = env.reset(seed=cfg.seed + step)
    action = None
    metrics_acc, n_acc = None, 0
    train_returns = []
    last_eval = logger.eval_history[-1]["mean_return"] if logger.eval_history else float("nan")
    bar = progress_bar(cfg.total_steps, initial=step, desc=f"{algo.upper()} {cfg.env_id}")
    t_phase, steps_phase = time.time(), 0
    try:
        while step < cfg.total_steps:
            if step < cfg.learning_starts or action is None:
                if step < cfg.learning_starts:
                    action = env.sample_actions(np_rng)
                else:
                    key, k = jax.random.split(key)
                    action = np.asarray(act_fn(state.actor_params, norm, jnp.asarray(obs), k))
            res = env.step(np.asarray(action))
            transition = Transition(
                obs=obs,
                action=np.asarray(action, np.float32),
                reward=res.reward,
                next_obs=res.final_obs,
                terminated=res.terminated.astype(np.float32),
            )
            step += cfg.num_envs
            steps_phase += cfg.num_envs
            train_returns.extend(res.finished_returns)
            buffer, norm = add_only(buffer, transition, norm)
            if step < cfg.learning_starts:
                action = None
            else:
                if metrics_acc is None:
                    metrics_acc = {k: jnp.zeros((), jnp.float32) for k in metric_names}
                state, norm, key, metrics_acc, aux, action = train_step(state, buffer, norm, key, metrics_acc, aux, res.obs)
                n_acc += 1
            obs = res.obs
            bar.update(cfg.num_envs)

            if step % cfg.log_every < cfg.num_envs and metrics_acc is not None:
                row = {k: v / n_acc for k, v in to_float_dict(metrics_acc).items()}
                check_finite(row, step, run_dir)
                row["steps_per_s"] = steps_phase / (time.time() - t_phase)
                if train_returns:
                    row["train_return"] = float(np.mean(train_returns))
                logger.log_metrics(step, row)
                metrics_acc, n_acc, train_returns = None, 0, []
                t_phase, steps_phase = time.time(), 0
                bar.set_postfix(eval_return=f"{last_eval:,.0f}", sps=f"{row['steps_per_s']:.0f}", refresh=False)
            if cfg.eval_every and step % cfg.eval_every < cfg.num_envs and step < cfg.total_steps:
                last_eval = evaluate(step)["mean_return"]
                bar.set_postfix(eval_return=f"{last_eval:,.0f}", refresh=False)
                t_phase, steps_phase = time.time(), 0
            if cfg.checkpoint_every and step % cfg.checkpoint_every < cfg.num_envs and step < cfg.total_steps:
                checkpoint(step)
                t_phase, steps_phase = time.time(), 0
    finally:
        bar.close()

    final = evaluate(step)
    checkpoint(step)
    atomic_write_bytes(run_dir / "policy.msgpack", policy_bytes({"env_steps": step, "eval_mean_return": final["mean_return"], "eval_std_return": final["std_return"]}))
    logger.close()
    wall_s = elapsed_before + time.time() - start_time
    best_info = best.report(eval_env, 2 * cfg.eval_episodes, cfg.seed + 20_000, logger.reference_lines)
    return dict(run_summary(final, step, wall_s, run_dir), **best_info)

