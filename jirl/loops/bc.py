"""Behaviour cloning and DAgger drivers, several seeds trained in one compiled program (``jax.vmap``).

BC: fit SAC's tanh-Gaussian actor to the demonstrations (``--bc.loss mse``: the deterministic action
``tanh(mean)``; ``nll``: the likelihood with the tanh correction), observation statistics from the demos.

DAgger (Ross et al. 2011): start from BC on the demonstrations; each round roll out a beta-mixture of expert
and learner (the expert acts at each step with probability beta, decaying), label every visited state with the
expert's action, aggregate, retrain from a fresh initialization. The expert is any callable ``obs [N, D] -> actions [N, A]``
in [-1, 1]; by default the shipped SAC policy.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np

from jirl.algorithms import bc, dagger
from jirl.envs.normalize import norm_apply, norm_init, norm_update
from jirl.fileio import atomic_write_bytes, save_figure
from jirl.loops.common import UserError, check_ranges, config_to_dict, init_per_seed, machine_description
from jirl.loops.gail import load_expert
from jirl.nets import TanhGaussianActor
from jirl.policy import load_policy, policy_to_bytes
from jirl.references import EXPERTS_DIR, normalized_score

DEFAULT_EXPERT = {"HalfCheetah-v5": EXPERTS_DIR / "HalfCheetah-v5" / "policy.msgpack"}


@dataclasses.dataclass(frozen=True)
class BCTrainConfig:
    """Behaviour cloning of the tanh-Gaussian actor on expert demonstrations, several seeds at once."""

    env_id: str = "HalfCheetah-v5"
    """Gymnasium env id; must match the demonstrations."""
    demos: str | None = None
    """Demonstrations .npz (default: the shipped expert demonstrations of --env-id)."""
    num_demos: int = 25
    """Number of expert episodes used (the first ones in the file)."""
    num_seeds: int = 3
    """Independent agents trained together (jax.vmap over seeds); seeds are seed, seed+1, ..."""
    seed: int = 0
    """First seed."""
    hidden: tuple[int, ...] = (256, 256)
    """Hidden sizes of the actor."""
    eval_episodes: int = 10
    """Evaluation episodes per seed (deterministic actions)."""
    run_dir: str | None = None
    """Output folder (default: runs/bc-<env>-<num_demos>demos)."""
    bc: bc.BCConfig = bc.BCConfig()


@dataclasses.dataclass(frozen=True)
class DAggerTrainConfig(BCTrainConfig):
    """DAgger: BC on the demonstrations, then rounds of learner rollouts labelled by the expert."""

    num_demos: int = 4
    """Expert episodes in the initial dataset."""
    expert: str | None = None
    """Expert policy file that labels the visited states (default: the shipped expert of --env-id)."""
    rounds: int = 10
    """DAgger rounds after the initial BC fit."""
    steps_per_round: int = 5000
    """Env steps each seed collects per round (autoreset across episodes). 5,000 (was 2,000): round 10 scored
    0.981 over six seeds with 5,000 vs 0.976 with 2,000, and rounds 8-10 stayed >= 0.978 (README, DAgger)."""
    beta0: float = 0.5
    """Probability that the expert acts in round 1."""
    beta_decay: float = 0.5
    """beta_i = beta0 * beta_decay ** (i - 1)."""
    eval_rounds: bool = True
    """Evaluate every round (rounds.jsonl/rounds.png); --no-eval-rounds evaluates only the final policies."""
    select: Literal["last", "best-val"] = "last"
    """Which round's policy each seed returns: the last round's, or (best-val, as in Ross et al. 2011) the round
    whose policy scored best on --val-episodes validation episodes (other episode seeds than the evaluation's,
    so the reported score of the chosen policy is not the one it was chosen on)."""
    val_episodes: int = 50
    """Validation episodes per seed and round for --select best-val."""
    collect_noise: float = 0.0
    """Std of Gaussian noise added to the executed actions while a round collects (labels stay the expert's
    noise-free actions): the learner's data then also covers the states a small error leads to. 0: plain DAgger."""
    eval_episodes: int = 50
    """Evaluation episodes per seed and round (deterministic actions). 50, not 10: a cloned policy flips or
    stalls in a few percent of episodes, so 10 episodes make a score a lottery (README, DAgger); 50 take ~4 s."""
    bc: bc.BCConfig = bc.BCConfig(lr_schedule="cosine")
    """Settings of every round's fit. The cosine learning rate (constant in bc.py) made the cloned policies fail
    (flip or stall) in fewer episodes on seeds 0-2, though not on seeds 3-5 (README, DAgger)."""
    run_dir: str | None = None
    """Output folder (default: runs/dagger-<env>-<num_demos>demos)."""


def check_config(cfg: BCTrainConfig) -> None:
    if cfg.num_seeds < 1 or cfg.eval_episodes < 1 or cfg.num_demos < 1:
        raise UserError("--num-seeds, --eval-episodes and --num-demos must be >= 1")
    if not cfg.hidden:
        raise UserError("--hidden needs at least one layer size")
    check_ranges("bc", cfg.bc, {"learning_rate": ">0", "batch_size": ">=1", "max_epochs": ">=1", "patience": ">=1", "val_fraction": "[0,1)", "weight_decay": ">=0"})
    if isinstance(cfg, DAggerTrainConfig):
        if cfg.rounds < 0 or cfg.steps_per_round < 1:
            raise UserError("--rounds must be >= 0 and --steps-per-round >= 1")
        if not (0.0 <= cfg.beta0 <= 1.0 and 0.0 <= cfg.beta_decay <= 1.0):
            raise UserError("--beta0 and --beta-decay must be in [0, 1]")
        if cfg.collect_noise < 0:
            raise UserError("--collect-noise must be >= 0")
        if cfg.val_episodes < 1:
            raise UserError("--val-episodes must be >= 1")


class SeedLearners:
    """K tanh-Gaussian actors (stacked parameters) with one jitted vmapped BC fit and vmapped acting."""

    def __init__(self, cfg: BCTrainConfig, obs_dim: int, action_dim: int, norm):
        self.cfg, self.obs_dim, self.action_dim, self.norm = cfg, obs_dim, action_dim, norm
        self.actor = TanhGaussianActor(tuple(cfg.hidden), action_dim)
        loss_one = bc.tanh_gaussian_loss(self.actor.apply, cfg.bc.loss)

        def fit_one(params, obs, act, key):
            return bc.fit(cfg.bc, loss_one, params, norm_apply(norm, obs), act, key)

        self._fit = jax.jit(jax.vmap(fit_one, in_axes=(0, None, None, 0)))  # same data, K seeds
        self._fit_each = jax.jit(jax.vmap(fit_one))  # per-seed data [K, N, ...]
        init_one = jax.jit(lambda k: self.actor.init(k, jnp.zeros((1, obs_dim))))
        self._init = lambda keys: init_per_seed(init_one, keys)

        def act(params, obs):
            mean, _ = self.actor.apply(params, norm_apply(norm, obs))
            return jnp.tanh(mean)

        self._act_each = jax.jit(jax.vmap(act))  # params [K], obs [K, B, D]
        self._act_one = jax.jit(act)

    def init(self, keys):
        return self._init(keys)

    def fit(self, params, obs, act, keys, per_seed: bool = False):
        """BC fit of every seed; ``obs``/``act`` shared ``[N, ...]`` or per seed ``[K, N, ...]``."""
        return (self._fit_each if per_seed else self._fit)(params, obs, act, keys)

    def act_each(self, params, obs):
        return np.asarray(self._act_each(params, jnp.asarray(obs, jnp.float32)))

    def policy_fn(self, params, k: int) -> Callable:
        p = jax.tree_util.tree_map(lambda x: x[k], params)
        return lambda obs: np.asarray(self._act_one(p, jnp.asarray(obs, jnp.float32)))

    def policy_bytes(self, params, k: int, meta: dict) -> bytes:
        p = jax.tree_util.tree_map(lambda x: np.asarray(x[k]), params)
        return policy_to_bytes("tanh_gaussian", p, self.cfg.hidden, self.obs_dim, self.action_dim, self.norm, meta)


def setup(cfg: BCTrainConfig):
    """Env probe, demonstrations, observation statistics and the seed learners."""
    from jirl.loops.rollout import make_env

    check_config(cfg)
    env = make_env(cfg.env_id, cfg.eval_episodes, cfg.seed + 10_000)
    demos = load_expert(cfg, env.obs_dim, env.action_dim)
    obs = jnp.asarray(demos.observations)
    act = jnp.asarray(demos.normalized_actions())
    norm = norm_update(norm_init(env.obs_dim), obs)
    return env, demos, obs, act, SeedLearners(cfg, env.obs_dim, env.action_dim, norm)


EVAL_SEED_OFFSET, VAL_SEED_OFFSET = 10_000, 20_000  # episode seeds of evaluation and of DAgger's validation


def evaluate_seeds(env, learners: SeedLearners, params, cfg: BCTrainConfig, episodes: int | None = None, offset: int = EVAL_SEED_OFFSET) -> np.ndarray:
    """``[K, E]`` returns of ``E = episodes or cfg.eval_episodes`` deterministic episodes per seed, reset with the
    episode seeds ``cfg.seed + offset + i`` (the same for every seed and round)."""
    from jirl.envs.gym_bridge import run_episodes

    n = episodes or cfg.eval_episodes
    return np.stack([run_episodes(env, learners.policy_fn(params, k), n, seed=cfg.seed + offset)[0] for k in range(cfg.num_seeds)])


def seed_summary(env_id: str, returns: np.ndarray) -> dict:
    scores = [normalized_score(env_id, float(r)) for r in returns]
    out = {"mean_return": float(returns.mean()), "std_return_over_seeds": float(returns.std()), "returns_per_seed": [float(r) for r in returns]}
    if scores[0] is not None:
        out.update(
            normalized_score=float(np.mean(scores)), normalized_score_std=float(np.std(scores)), normalized_per_seed=[float(s) for s in scores]
        )
    return out


def save_policies(run_dir: Path, learners: SeedLearners, params, cfg, algo: str, returns: np.ndarray) -> list[str]:
    paths = []
    for k in range(cfg.num_seeds):
        path = run_dir / f"policy-seed{cfg.seed + k}.msgpack"
        meta = {
            "env_id": cfg.env_id,
            "algorithm": algo,
            "seed": cfg.seed + k,
            "num_demos": cfg.num_demos,
            "eval_mean_return": float(returns[k]),
            "config": config_to_dict(cfg),
        }
        atomic_write_bytes(path, learners.policy_bytes(params, k, meta))
        paths.append(str(path))
    return paths


def train_bc(cfg: BCTrainConfig) -> dict:
    start = time.time()
    env, demos, obs, act, learners = setup(cfg)
    run_dir = Path(cfg.run_dir or f"runs/bc-{cfg.env_id}-{cfg.num_demos}demos")
    run_dir.mkdir(parents=True, exist_ok=True)
    keys = jax.vmap(jax.random.PRNGKey)(jnp.arange(cfg.seed, cfg.seed + cfg.num_seeds))
    t0 = time.time()
    res = learners.fit(learners.init(keys), obs, act, keys)
    jax.block_until_ready(res.params)
    fit_s = time.time() - t0
    returns = evaluate_seeds(env, learners, res.params, cfg).mean(axis=1)
    env.close()
    paths = save_policies(run_dir, learners, res.params, cfg, "bc", returns)
    summary = {
        **seed_summary(cfg.env_id, returns),
        "num_demos": cfg.num_demos,
        "num_seeds": cfg.num_seeds,
        "transitions": int(obs.shape[0]),
        "epochs_per_seed": [int(e) for e in res.epochs],
        "best_val_loss_per_seed": [float(v) for v in res.best_val_loss],
        "fit_s": round(fit_s, 1),
    }
    return finish(run_dir, cfg, summary, start, paths)


def finish(run_dir: Path, cfg: BCTrainConfig, summary: dict, start: float, policies: list[str]) -> dict:
    """Add wall time, machine, run folder and policy files to ``summary`` and write summary.json."""
    summary = dict(summary, wall_s=round(time.time() - start, 1), machine=machine_description(), run_dir=str(run_dir), policies=policies)
    atomic_write_bytes(run_dir / "summary.json", json.dumps({"config": config_to_dict(cfg), **summary}, indent=2).encode())
    return summary


def load_expert_policy(cfg: DAggerTrainConfig, obs_dim: int, action_dim: int) -> Callable:
    path = cfg.expert or DEFAULT_EXPERT.get(cfg.env_id)
    if path is None:
        raise UserError(f"no shipped expert policy for {cfg.env_id}; pass --expert PATH")
    try:
        policy = load_policy(path)
    except ValueError as e:
        raise UserError(str(e)) from None
    if (policy.obs_dim, policy.action_dim) != (obs_dim, action_dim):
        raise UserError(f"expert {path} expects obs/action dims {policy.obs_dim}/{policy.action_dim}, {cfg.env_id} has {obs_dim}/{action_dim}")
    return policy


def plot_rounds(path: Path, scores: np.ndarray, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    x = np.arange(scores.shape[0])
    for k in range(scores.shape[1]):
        ax.plot(x, scores[:, k], color="grey", alpha=0.5, lw=0.8)
    ax.errorbar(x, scores.mean(1), yerr=scores.std(1), marker="o", capsize=3, label="mean +- std over seeds")
    ax.axhline(1.0, color="green", ls="--", lw=0.8, label="expert")
    ax.set_xlabel("DAgger round (0 = BC on the demonstrations)")
    ax.set_ylabel("normalized score")
    ax.set_title(title)
    ax.legend()
    save_figure(fig, path)


def train_dagger(cfg: DAggerTrainConfig) -> dict:
    from jirl.envs.gym_bridge import VecEnv
    from jirl.loops.rollout import make_env

    start = time.time()
    eval_env, _, obs, act, learners = setup(cfg)
    expert = load_expert_policy(cfg, eval_env.obs_dim, eval_env.action_dim)
    run_dir = Path(cfg.run_dir or f"runs/dagger-{cfg.env_id}-{cfg.num_demos}demos")
    run_dir.mkdir(parents=True, exist_ok=True)
    K = cfg.num_seeds
    keys = jax.vmap(jax.random.PRNGKey)(jnp.arange(cfg.seed, cfg.seed + K))
    res = learners.fit(learners.init(keys), obs, act, keys)
    params = res.params
    data_obs = np.broadcast_to(np.asarray(obs), (K, *obs.shape)).copy()
    data_act = np.broadcast_to(np.asarray(act), (K, *act.shape)).copy()
    env = VecEnv(cfg.env_id, K, seed=cfg.seed + 50_000)  # env k is driven by seed k's learner
    rng = np.random.default_rng(cfg.seed)
    env_obs = env.reset(seed=cfg.seed + 50_000)
    history = []

    def record(entry: dict) -> None:
        """Keep, print and write (rounds.jsonl) one round's figures."""
        history.append(entry)
        print(json.dumps({k: entry.get(k) for k in ("round", "beta", "normalized_score", "mean_return")}), flush=True)
        atomic_write_bytes(run_dir / "rounds.jsonl", "".join(json.dumps(h) + "\n" for h in history).encode())

    def evaluated(r: int) -> dict:
        """Round ``r``'s scores (its ``returns_per_seed`` included); with --no-eval-rounds only the last round's."""
        if not cfg.eval_rounds and r < cfg.rounds:
            return {}
        episodes = evaluate_seeds(eval_env, learners, params, cfg)
        return {**seed_summary(cfg.env_id, episodes.mean(axis=1)), "episode_returns_per_seed": np.round(episodes, 1).tolist()}

    def fit_stats(res) -> dict:
        """Per seed: epochs the fit ran and its best validation loss (how well the labels are matched)."""
        return {"fit_epochs": np.asarray(res.epochs).tolist(), "fit_val_loss": np.asarray(res.best_val_loss).tolist()}

    val_env = make_env(cfg.env_id, cfg.val_episodes, cfg.seed + VAL_SEED_OFFSET) if cfg.select == "best-val" else None
    best = {"params": params, "val": np.full(K, -np.inf), "round": np.zeros(K, int)}

    def validated(r: int) -> dict:
        """best-val: score round ``r``'s policies on the validation episodes and keep, per seed, the best so far."""
        if val_env is None:
            return {}
        val = evaluate_seeds(val_env, learners, params, cfg, cfg.val_episodes, VAL_SEED_OFFSET).mean(axis=1)
        better = val > best["val"]
        pick = lambda new, old: jnp.where(better.reshape(-1, *([1] * (new.ndim - 1))), new, old)
        best.update(params=jax.tree_util.tree_map(pick, params, best["params"]), val=np.where(better, val, best["val"]), round=np.where(better, r, best["round"]))
        return {"val_return_per_seed": val.tolist()}

    record({"round": 0, "beta": 1.0, "transitions": int(data_obs.shape[1]), **fit_stats(res), **validated(0), **evaluated(0)})
    for r in range(1, cfg.rounds + 1):
        beta = dagger.beta_schedule(r, cfg.beta0, cfg.beta_decay)
        learner_fn = lambda o, p=params: learners.act_each(p, o[:, None, :])[:, 0, :]
        new_obs, labels, env_obs, frac_expert = dagger.collect_round(env, env_obs, learner_fn, expert, beta, cfg.steps_per_round, rng, cfg.collect_noise)
        data_obs, data_act = dagger.aggregate(data_obs, data_act, new_obs, labels)
        keys = jax.vmap(lambda k, r=r: jax.random.fold_in(k, r))(keys)
        # retrain from a fresh initialization: a warm start would meet validation samples it was already fitted
        # on (the split is redrawn each round), so early stopping kept the old parameters and DAgger stalled
        res = learners.fit(learners.init(keys), jnp.asarray(data_obs), jnp.asarray(data_act), keys, per_seed=True)
        params = res.params
        entry = {"round": r, "beta": beta, "expert_action_share": frac_expert, "transitions": int(data_obs.shape[1]), **fit_stats(res)}
        record({**entry, **validated(r), **evaluated(r)})
    env.close()
    returns = np.asarray(history[-1]["returns_per_seed"])  # the last round is always evaluated
    selected = {}
    if val_env is not None:
        val_env.close()
        params = best["params"]
        returns = evaluate_seeds(eval_env, learners, params, cfg).mean(axis=1)
        selected = {"select": "best-val", "selected_round_per_seed": best["round"].tolist(), "selected_val_return_per_seed": best["val"].tolist()}
    eval_env.close()
    paths = save_policies(run_dir, learners, params, cfg, "dagger", returns)
    if all("normalized_score" in h for h in history):
        plot_rounds(
            run_dir / "rounds.png", np.array([h["normalized_per_seed"] for h in history]), f"DAgger on {cfg.env_id}, {cfg.num_demos} demos, {K} seeds"
        )
    summary = {
        **seed_summary(cfg.env_id, returns),
        "rounds": cfg.rounds,
        "score_per_round": [h.get("normalized_score") for h in history],  # None where not evaluated
        "num_demos": cfg.num_demos,
        "num_seeds": K,
        "transitions": int(data_obs.shape[1]),
        "env_steps_collected": cfg.rounds * cfg.steps_per_round,
        **selected,
    }
    return finish(run_dir, cfg, summary, start, paths)
