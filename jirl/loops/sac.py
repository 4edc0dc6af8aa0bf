"""SAC training driver: runs the env loop, evaluates, logs, checkpoints, and resumes.

After the random-action phase, the env steps between two events (log, evaluation, checkpoint) run as one
compiled loop: each iteration picks the action, steps the Gymnasium envs on the host through
``io_callback``, adds the transitions to the replay buffer and runs ``updates_per_step`` SAC updates.
So the progress bar moves, and Ctrl-C takes effect, once per chunk (``--log-every`` env steps, ~7 s for
the default 1,000 on a 2-core CPU). The first update comes with the first policy step after
``learning_starts`` random ones.

Resume semantics: a checkpoint holds the SAC state, the replay buffer (``buffer-<step>.npz``), the observation
normalizer, the PRNG key and the step counter. ``--resume`` restores all of them and restarts the episodes
that were in progress (env simulator state is not checkpointed), so a resumed run differs from an
uninterrupted one only by those restarted episodes.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import os
import time
from collections.abc import Callable
from typing import Any

import chex
import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import io_callback

from jirl.algorithms import sac
from jirl.buffers import Transition, buffer_add, buffer_from_numpy, buffer_init, buffer_to_numpy, with_pending
from jirl.envs.gym_bridge import run_grouped_episodes
from jirl.envs.normalize import norm_apply, norm_init, norm_update
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
from jirl.policy import policy_to_bytes


@dataclasses.dataclass(frozen=True)
class SACTrainConfig:
    """Train a SAC agent on a Gymnasium env (defaults: the run that made the shipped HalfCheetah expert)."""

    env_id: str = "HalfCheetah-v5"
    """Gymnasium env id with a Box action space."""
    seed: int = 0
    """Seed of everything (network init, exploration, env resets)."""
    num_seeds: int = 1
    """Train the seeds seed, seed+1, ..., seed+K-1 as K independent agents in one compiled program (vmapped
    over seeds, each with its own replay buffer: mind K x --buffer-size in memory). Each seed gets its own
    folder run_dir/seed-<S> (metrics, curve, checkpoint, policies) with the same results as a separate run with
    that seed; run_dir gets curve.png with every seed and summary.json with the mean and spread."""
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


def pack_transitions(obs, action, reward, next_obs, terminated) -> np.ndarray:
    """NumPy transitions ``obs [M, O], action [M, A], reward [M], next_obs [M, O], terminated [M]`` as one
    float32 array ``[M, 2 O + A + 2]`` (columns in that order); :func:`unpack_transitions` inverts it in JAX."""
    return np.concatenate(
        [obs, action, np.asarray(reward)[:, None], next_obs, np.asarray(terminated)[:, None]], axis=1, dtype=np.float32
    )


def unpack_transitions(packed: jax.Array, obs_dim: int, action_dim: int) -> Transition:
    """``[..., 2 O + A + 2] -> Transition`` with leaves ``[..., O]``, ``[..., A]``, ``[...]``, ``[..., O]``, ``[...]``."""
    chex.assert_axis_dimension(packed, -1, 2 * obs_dim + action_dim + 2)
    o, a = obs_dim, action_dim
    return Transition(
        obs=packed[..., :o],
        action=packed[..., o : o + a],
        reward=packed[..., o + a],
        next_obs=packed[..., o + a + 1 : 2 * o + a + 1],
        terminated=packed[..., 2 * o + a + 1],
    )


def _validate(cfg: SACTrainConfig) -> None:
    for name in ("total_steps", "buffer_size", "updates_per_step", "num_envs", "eval_episodes", "log_every", "num_seeds"):
        if getattr(cfg, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(cfg, name)}")
    if cfg.learning_starts < 0:
        raise UserError(f"--learning-starts must be >= 0, got {cfg.learning_starts}")
    if cfg.buffer_size < cfg.num_envs:
        raise UserError("--buffer-size must be at least --num-envs")
    check_ranges("sac", cfg.sac, SAC_RANGES)


SAC_RANGES = {"hidden": "sizes", "num_qs": ">=1", "actor_lr": ">0", "critic_lr": ">0", "alpha_lr": ">0", "gamma": "(0,1]", "tau": "(0,1]", "batch_size": ">=1", "init_alpha": ">0"}


@dataclasses.dataclass(frozen=True)
class OffPolicyImitation:
    """Turns the SAC driver into an off-policy imitation learner (DAC-style GAIL).

    ``make_aux(seed)`` builds the imitation state of a seed (e.g. a discriminator), checkpointed with the run.
    Inside the per-step jitted call, ``aux_update(aux, norm, buffer, key, actor_params) -> (aux, metrics)``
    runs first (it may only *read* the buffer; ``actor_params`` is the current SAC actor, for learners such
    as AIRL whose discriminator needs ``log pi``), then the SAC updates use ``reward_fn(aux, norm, batches) ->
    rewards`` instead of the env reward. ``on_finish(aux, norm, run_dir, seed) -> dict`` runs per seed after
    the final checkpoint; its dict goes into that seed's summary. ``config`` (the imitation run's own config
    dataclass) is recorded under ``"imitation"`` in every config.json, so the run can be reconstructed.
    """

    name: str
    make_aux: Callable[[int], Any]
    aux_update: Callable
    reward_fn: Callable
    metric_names: tuple[str, ...]
    reference_lines: dict = dataclasses.field(default_factory=dict)
    on_finish: Callable | None = None
    config: Any = None


def make_learn_step(scfg: sac.SACConfig, imitation: "OffPolicyImitation | None", n_updates: int, obs_dim: int, action_dim: int):
    """``learn_one(state, buffer, norm, key, metrics_sum, aux, packed) -> (state, buffer, norm, key, metrics_sum, aux)``:
    one env step's learning for one seed: add the new transitions ``packed [N, D]``, run the updates.

    The updates (and ``aux_update``) sample a view of the buffer in which the new transitions count as
    added (``with_pending``); the real write comes last and depends on the updates' results. Ordered so,
    the 170 MB buffer is updated in place; a write that a pending read could still see makes XLA copy the
    whole buffer every step (25-85 ms on 2 cores; ``tests/test_sac.py`` checks the compiled program).
    """

    def learn_one(state, buffer, norm, key, metrics_sum, aux, packed):
        new = unpack_transitions(packed, obs_dim, action_dim)
        if norm is not None:
            norm = norm_update(norm, new.obs)
        view = with_pending(buffer, new)
        key, k_aux, k_update = jax.random.split(key, 3)
        reward_fn = None
        if imitation is not None:
            aux, aux_metrics = imitation.aux_update(aux, norm, view, k_aux, state.actor_params)
            reward_fn = functools.partial(imitation.reward_fn, aux, norm)
        state, metrics = sac.update_from_buffer(scfg, state, view, k_update, n_updates, norm, reward_fn)
        if imitation is not None:
            metrics = dict(metrics, **aux_metrics)
        after_reads = jax.lax.optimization_barrier(sum(jnp.sum(v) for v in jax.tree_util.tree_leaves(metrics)) * 0.0)
        buffer = buffer_add(buffer, jax.tree_util.tree_map(lambda x: x + after_reads.astype(x.dtype), new))
        metrics_sum = jax.tree_util.tree_map(jnp.add, metrics_sum, metrics)
        return state, buffer, norm, key, metrics_sum, aux

    return learn_one


def train(cfg: SACTrainConfig, imitation: OffPolicyImitation | None = None) -> dict:
    """Train; returns the summary dict that the script prints as its final JSON line.

    With ``cfg.num_seeds = K > 1`` the K seeds are one batch: every state (agent, replay buffer, observation
    statistics, key, ``aux``) has a leading seed axis, the per-step calls are ``jit(vmap(...))`` over it, and
    the env holds ``K x num_envs`` envs. Folders as in :func:`jirl.loops.ppo.run_onpolicy`.
    """
    _validate(cfg)
    K, N, E = cfg.num_seeds, cfg.num_envs, cfg.eval_episodes
    seeds = [cfg.seed + k for k in range(K)]
    algo = imitation.name if imitation else "sac"
    run_dir = prepare_run_dir(cfg.run_dir or (default_run_dir(algo, cfg.env_id, cfg.seed) + (f"-x{K}" if K > 1 else "")), cfg.resume)
    dirs = seed_run_dirs(run_dir, seeds)
    env, eval_env = make_train_and_eval_envs(cfg.env_id, K * N, K * E, cfg.seed)
    obs_dim, action_dim = env.obs_dim, env.action_dim
    scfg = cfg.sac

    key = jnp.stack([jax.random.PRNGKey(s) for s in seeds])
    key, k_init = split_seed_keys(key, 2)
    state = init_per_seed(lambda k: sac.init(scfg, k, obs_dim, action_dim), k_init)
    norm = stack_trees([norm_init(obs_dim)] * K) if cfg.normalize_obs else None
    example = _example_transition(obs_dim, action_dim)
    step = 0
    start_time = time.time()
    elapsed_before = 0.0

    aux = stack_trees([imitation.make_aux(s) for s in seeds]) if imitation else None
    refs = imitation.reference_lines if imitation else {}
    seed_config = lambda k: dataclasses.replace(cfg, seed=seeds[k], run_dir=str(dirs[k]), **({"num_seeds": 1} if K > 1 else {}))
    if cfg.resume:
        tree, meta = load_seed_checkpoint(run_dir, {"sac": state, "norm": norm, "key": key, "aux": aux}, K)
        state, norm, key, aux = tree["sac"], tree["norm"], tree["key"], tree["aux"]
        step, elapsed_before = int(meta["step"]), float(meta["wall_s"])
        buffers = []
        for name in meta.get("buffer_files", [meta.get("buffer_file")]):
            with np.load(run_dir / name, allow_pickle=False) as z:
                buffers.append(buffer_from_numpy(example, cfg.buffer_size, {k: z[k] for k in z.files}))
        buffer = stack_trees(buffers)
    else:
        buffer = jax.vmap(lambda _: buffer_init(example, cfg.buffer_size))(jnp.arange(K))
    loggers = open_seed_loggers(
        cfg, run_dir, dirs, seeds, f"{algo.upper()} on {cfg.env_id}", refs, seed_config, step if cfg.resume else None
    )

    if imitation is not None and imitation.config is not None and not cfg.resume:
        for path in [d / "config.json" for d in dirs] + ([run_dir / "config.json"] if K > 1 else []):
            path.write_text(json.dumps(dict(json.loads(path.read_text()), imitation=config_to_dict(imitation.config)), indent=2))
    np_rngs = [np.random.default_rng(s + step) for s in seeds]

    # --- the jitted functions (one seed each, vmapped over seeds) ---------------------------------------
    n_updates = cfg.updates_per_step * N
    metric_names = METRIC_NAMES + (imitation.metric_names if imitation else ())

    def add_one(buffer, packed, norm):
        transition = unpack_transitions(packed, obs_dim, action_dim)
        if norm is not None:
            norm = norm_update(norm, transition.obs)
        return buffer_add(buffer, transition), norm

    # the random-action phase: one packed float32 array per env step ([K, N, D], see pack_transitions)
    add_only = jax.jit(jax.vmap(add_one), donate_argnums=(0,))

    learn_one = make_learn_step(scfg, imitation, n_updates, obs_dim, action_dim)

    packed_spec = jax.ShapeDtypeStruct((K, N, 2 * obs_dim + action_dim + 2), jnp.float32)
    obs_spec = jax.ShapeDtypeStruct((K, N, obs_dim), jnp.float32)
    host = {"obs": None, "train_returns": [[] for _ in seeds]}  # env-side state the callback updates

    def host_env_step(action):
        """Runs on the host inside the compiled loop: step the envs, return (packed transitions, next obs)."""
        action = np.asarray(action).reshape(K * N, action_dim)
        res = env.step(action)
        packed = pack_transitions(host["obs"], action, res.reward, res.final_obs, res.terminated).reshape(K, N, -1)
        for i, r in zip(np.flatnonzero(res.terminated | res.truncated), res.finished_returns, strict=True):
            host["train_returns"][i // N].append(r)
        host["obs"] = res.obs
        return packed, np.asarray(res.obs, np.float32).reshape(K, N, obs_dim)

    def env_step_and_learn(carry):
        state, buffer, norm, key, metrics_sum, aux, obs = carry
        key, k_act = split_seed_keys(key, 2)
        action = jax.vmap(lambda p, n, o, k: sac.act(scfg, p, norm_apply(n, o), k, deterministic=False))(state.actor_params, norm, obs, k_act)
        packed, next_obs = io_callback(host_env_step, (packed_spec, obs_spec), action)
        state, buffer, norm, key, metrics_sum, aux = jax.vmap(learn_one)(state, buffer, norm, key, metrics_sum, aux, packed)
        return state, buffer, norm, key, metrics_sum, aux, next_obs

    # a chunk of env steps (up to the next log / eval / checkpoint) is one compiled loop: the env is stepped
    # from inside it through io_callback, so there is no per-step dispatch, transfer or Python overhead
    run_chunk = jax.jit(
        lambda carry, n: jax.lax.fori_loop(0, n, lambda _, c: env_step_and_learn(c), carry), donate_argnums=(0,)
    )
    act_det = jax.jit(jax.vmap(lambda p, n, o: sac.act(scfg, p, norm_apply(n, o), jax.random.PRNGKey(0), True)))

    curve = {"path": run_dir / "curve.png", "seeds": seeds, "title": f"{algo.upper()} on {cfg.env_id}", "reference_lines": refs}
    bests = [BestPolicy(d, step if cfg.resume else None) for d in dirs]

    def policy_bytes(k: int, meta: dict) -> bytes:
        meta = {"env_id": cfg.env_id, "algorithm": algo, "seed": seeds[k], **meta, "config": config_to_dict(seed_config(k))}
        return policy_to_bytes("tanh_gaussian", tree_index(state.actor_params, k), scfg.hidden, obs_dim, action_dim, tree_index(norm, k), meta)

    def evaluate(at_step: int) -> list[dict]:
        act = lambda o: np.asarray(act_det(state.actor_params, norm, np.asarray(o).reshape(K, E, -1))).reshape(K * E, -1)
        returns = run_grouped_episodes(eval_env, act, [s + 10_000 for s in seeds])
        return record_seed_evals(at_step, returns, loggers, bests, policy_bytes, curve)

    def checkpoint(at_step: int) -> None:
        buf_name = f"buffer-{at_step}.npz"
        meta = {"step": at_step, "wall_s": elapsed_before + time.time() - start_time}
        for k, d in enumerate(dirs):  # the replay buffers first, each in its seed's folder
            data = io.BytesIO()
            np.savez(data, **buffer_to_numpy(tree_index(buffer, k)))
            atomic_write_bytes(d / buf_name, data.getvalue())  # no half-written or stray temp file, even on Ctrl-C / SIGTERM
        files = [str(d.relative_to(run_dir) / buf_name) for d in dirs]
        save_seed_checkpoints(
            run_dir, dirs, {"sac": state, "norm": norm, "key": key, "aux": aux}, dict(meta, buffer_files=files, config=config_to_dict(cfg)),
            lambda k: {"buffer_file": buf_name, "buffer_files": [buf_name], "config": config_to_dict(seed_config(k))},
        )
        for d in dirs:
            for old in d.glob("buffer-*.npz"):
                if old.name != buf_name:
                    old.unlink()

    # --- the loop ---------------------------------------------------------------------------------------
    def at_event(at: int) -> bool:
        return (
            at >= cfg.total_steps
            or at % cfg.log_every < N
            or bool(cfg.eval_every and at % cfg.eval_every < N)
            or bool(cfg.checkpoint_every and at % cfg.checkpoint_every < N)
        )

    host["obs"] = env.reset(seeds=[s + step + i for s in seeds for i in range(N)])  # seed k's block as a single run resets it
    metrics_acc, n_acc, obs = None, 0, None
    last_eval = [lg.eval_history[-1]["mean_return"] if lg.eval_history else float("nan") for lg in loggers]
    bar = progress_bar(K * cfg.total_steps, initial=K * step, desc=f"{algo.upper()} {cfg.env_id}" + (f" x{K} seeds" if K > 1 else ""))
    t_phase, steps_phase = time.time(), 0
    try:
        while step < cfg.total_steps:
            if step < cfg.learning_starts:  # uniform random actions, one step at a time
                action = np.concatenate([rng.uniform(-1.0, 1.0, size=(N, action_dim)).astype(np.float32) for rng in np_rngs])
                packed, _ = host_env_step(action)
                buffer, norm = add_only(buffer, packed, norm)
                n_iter = 1
            else:  # policy actions and learning: env steps up to the next event in one compiled call
                n_iter = 1
                while not at_event(step + n_iter * N):
                    n_iter += 1
                if metrics_acc is None:
                    metrics_acc = {name: jnp.zeros((K,), jnp.float32) for name in metric_names}
                if obs is None:  # first chunk after the random phase: the env's current observation
                    obs = np.asarray(host["obs"], np.float32).reshape(K, N, obs_dim)
                # the next chunk starts from this one's last observation (an output: right under async dispatch)
                state, buffer, norm, key, metrics_acc, aux, obs = run_chunk((state, buffer, norm, key, metrics_acc, aux, obs), n_iter)
                n_acc += n_iter
            step += n_iter * N
            steps_phase += n_iter * N
            bar.update(K * N * n_iter)

            if step % cfg.log_every < N and metrics_acc is not None:
                sums = jax.device_get(metrics_acc)
                sps = steps_phase / (time.time() - t_phase)
                for k in range(K):
                    row = {name: float(v[k]) / n_acc for name, v in sums.items()}
                    check_finite(row, step, dirs[k])
                    row["steps_per_s"] = sps
                    if host["train_returns"][k]:
                        row["train_return"] = float(np.mean(host["train_returns"][k]))
                    loggers[k].log_metrics(step, row)
                metrics_acc, n_acc = None, 0
                host["train_returns"] = [[] for _ in seeds]
                t_phase, steps_phase = time.time(), 0
                bar.set_postfix(eval_return=f"{np.mean(last_eval):,.0f}", sps=f"{K * sps:.0f}", refresh=False)
            if cfg.eval_every and step % cfg.eval_every < N and step < cfg.total_steps:
                last_eval = [r["mean_return"] for r in evaluate(step)]
                bar.set_postfix(eval_return=f"{np.mean(last_eval):,.0f}", refresh=False)
                t_phase, steps_phase = time.time(), 0
            if cfg.checkpoint_every and step % cfg.checkpoint_every < N and step < cfg.total_steps:
                checkpoint(step)
                t_phase, steps_phase = time.time(), 0
    finally:
        bar.close()
        env.close()

    final = evaluate(step)
    checkpoint(step)
    for k, d in enumerate(dirs):
        meta = {"env_steps": step, "eval_mean_return": final[k]["mean_return"], "eval_std_return": final[k]["std_return"]}
        atomic_write_bytes(d / "policy.msgpack", policy_bytes(k, meta))
        loggers[k].close()
    wall_s = elapsed_before + time.time() - start_time
    report_env = eval_env if K == 1 else make_train_and_eval_envs(cfg.env_id, 1, E, cfg.seed)[1]
    summaries = [
        dict(run_summary(final[k], step, wall_s, d), **({"seed": seeds[k]} if K > 1 else {}), **bests[k].report(report_env, 2 * E, seeds[k] + 20_000, refs))
        for k, d in enumerate(dirs)
    ]
    if imitation is not None and imitation.on_finish is not None:
        for k, d in enumerate(dirs):
            summaries[k].update(imitation.on_finish(tree_index(aux, k), tree_index(norm, k), d, seeds[k]))
    eval_env.close()
    if report_env is not eval_env:
        report_env.close()
    return finish_seed_summary(summaries, seeds, step, wall_s, run_dir)
