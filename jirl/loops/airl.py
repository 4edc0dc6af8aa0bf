"""AIRL with a PPO or SAC generator, then reward transfer: a fresh SAC agent trained from scratch on the
frozen learned reward ``g(s)``.

Stage 1 reuses GAIL's drivers and helpers: with PPO (default) the on-policy driver with GAIL's
behaviour-cloning start and BC term; with SAC (``--learner sac``) the off-policy driver as DAC does, replayed
transitions being the policy side. Only the discriminator differs (``jirl/algorithms/airl.py``), and it needs
the current policy's log-probabilities of expert and policy actions, which the hooks compute from the
learner's parameters. At the end the learned reward (``g`` and the observation statistics it was trained
with) goes to ``reward.msgpack``.

Stage 2 (``--transfer-steps``, 0 to skip) trains SAC with the reward ``(g(s) - m) / sd`` (``m``, ``sd``: mean
and std of ``g`` over the demonstration states; HalfCheetah never terminates, so this affine change alters no
optimal policy) in ``<run_dir>/transfer`` and reports its true return.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np

from jirl.algorithms import airl, ppo, sac
from jirl.buffers import buffer_sample
from jirl.algorithms.maxent_irl import pearson
from jirl.envs.normalize import norm_apply, norm_init
from jirl.fileio import atomic_write_bytes
from jirl.loops.common import UserError, check_ranges, meta_from_bytes, pytree_from_bytes, pytree_to_bytes, seed_run_dirs
from jirl.loops.gail import DEFAULT_DEMOS, GAILTrainConfig, load_expert, make_bc_init, make_bc_loss, off_policy_config, resolve_disc
from jirl.loops.ppo import Rollout, run_onpolicy
from jirl.nets import gaussian_log_prob
from jirl.references import reference_lines

REWARD_FILE = "reward.msgpack"
STAGE1_SUMMARY = "airl-summary.json"


@dataclasses.dataclass(frozen=True)
class AIRLTrainConfig(GAILTrainConfig):
    """AIRL from expert demonstrations (PPO generator by default: 3,000,000 env steps unless --total-steps
    says otherwise), then a fresh SAC agent on the learned reward."""

    total_steps: int | None = None
    """Env steps of the AIRL stage (default: 3,000,000 with ppo, 300,000 with sac; ppo rounds up to whole
    rollouts)."""
    disc: airl.AIRLConfig = airl.AIRLConfig()
    transfer_steps: int = 300_000
    """Env steps of the reward-transfer SAC run on the frozen g (0: skip stage 2)."""
    transfer_reward: Literal["g", "f"] = "g"
    """What the transfer agent maximizes: g = the learned state-only reward (the paper's transfer); f = g plus
    the learned potential-based shaping gamma h(s') - h(s), which leaves the optimal policy unchanged (Ng et
    al. 1999) but may guide a fresh agent better. Both standardized by g's mean/std on the demonstrations.
    The agent goes to run_dir/transfer (g) or run_dir/transfer-f (f)."""
    reward_from: str | None = None
    """Skip the AIRL stage and run only the transfer on rewards learned before: a folder with reward.msgpack
    (one seed) or seed-<S>/reward.msgpack for each of the seeds (--num-seeds > 1), as an AIRL run folder holds
    them. Each file must have been learned with the same --env-id and seed. Its airl-summary.json, if present,
    goes into the summary under "stage1"."""


def log_pi_fn(pcfg: ppo.PPOConfig):
    """``(params, normalized obs [B, D], action [B, A]) -> log pi(a | s) [B]`` of PPO's Gaussian policy."""

    def log_pi(params, obs_n, action):
        mean, log_std, _ = ppo.policy_outputs(pcfg, params, obs_n)
        return gaussian_log_prob(action, mean, log_std)

    return log_pi


def make_relabel(cfg: AIRLTrainConfig, expert_obs, expert_act, expert_next, expert_terminated):
    """The AIRL ``relabel`` hook: both sides' log pi from the current policy, discriminator steps, then the
    generator reward for the rollout."""
    dcfg, log_pi = cfg.disc, log_pi_fn(cfg.ppo)

    def relabel(state, norm, rollout: Rollout, key, params):
        T, N = rollout.reward.shape
        flat = lambda x: x.reshape((T * N,) + x.shape[2:])
        obs_n = norm_apply(norm, flat(rollout.obs))
        policy = airl.Transitions(
            obs=obs_n,
            action=jnp.clip(flat(rollout.action), -1.0, 1.0),
            next_obs=norm_apply(norm, flat(rollout.final_obs)),
            terminated=flat(rollout.terminated),
            log_pi=log_pi(params, obs_n, flat(rollout.action)),  # the density of the action actually sampled
        )
        e_obs_n = norm_apply(norm, expert_obs)
        expert = airl.Transitions(
            obs=e_obs_n,
            action=expert_act,
            next_obs=norm_apply(norm, expert_next),
            terminated=expert_terminated,
            log_pi=log_pi(params, e_obs_n, expert_act),
        )
        state, metrics = airl.train_steps(dcfg, state, expert, policy, key, dcfg.steps_per_round)
        rewards = airl.generator_reward(dcfg, state.params, policy).reshape(T, N)
        g_policy = airl.reward(dcfg, state.params, policy.obs, policy.action)
        metrics = dict(metrics, disc_reward_mean=jnp.mean(rewards), g_policy_mean=jnp.mean(g_policy), env_reward_mean=jnp.mean(rollout.reward))
        # how well g ranks states: correlation with the true reward over the rollout (analysis only; 0, not NaN,
        # when a rollout's reward is constant, so the non-finite check cannot stop the run over it)
        metrics["g_env_corr"] = pearson(g_policy, flat(rollout.reward))
        return state, rewards, metrics

    return relabel


def make_sac_imitation(cfg: AIRLTrainConfig, expert_obs, expert_act, expert_next, expert_terminated, obs_dim: int, action_dim: int, on_finish):
    """AIRL as an off-policy imitation learner for the SAC driver: every env step, ``steps_per_round``
    discriminator steps on replayed transitions (log pi from the current SAC actor, for replayed and expert
    actions alike); SAC maximizes ``f`` of the replayed transitions."""
    from jirl.loops.sac import OffPolicyImitation

    dcfg = cfg.disc
    n = dcfg.batch_size * dcfg.steps_per_round
    log_pi = lambda params, obs_n, action: sac.log_prob(cfg.sac, params, obs_n, action)

    def aux_update(state, norm, buffer, key, actor_params):
        k_rows, k_expert, k_train = jax.random.split(key, 3)
        rows = buffer_sample(buffer, k_rows, n)
        obs_n = norm_apply(norm, rows.obs)
        policy = airl.Transitions(
            obs=obs_n, action=rows.action, next_obs=norm_apply(norm, rows.next_obs), terminated=rows.terminated, log_pi=log_pi(actor_params, obs_n, rows.action)
        )
        idx = jax.random.randint(k_expert, (n,), 0, expert_obs.shape[0])  # only the expert pairs these steps use
        e_obs_n = norm_apply(norm, expert_obs[idx])
        expert = airl.Transitions(
            obs=e_obs_n, action=expert_act[idx], next_obs=norm_apply(norm, expert_next[idx]), terminated=expert_terminated[idx], log_pi=log_pi(actor_params, e_obs_n, expert_act[idx])
        )
        return airl.train_steps(dcfg, state, expert, policy, k_train, dcfg.steps_per_round)

    def reward_fn(state, norm, batches):
        trans = airl.Transitions(
            obs=norm_apply(norm, batches.obs),
            action=batches.action,
            next_obs=norm_apply(norm, batches.next_obs),
            terminated=batches.terminated,
            log_pi=jnp.zeros(batches.obs.shape[:1], batches.obs.dtype),
        )
        return airl.shaped_reward(dcfg, state.params, trans)

    return OffPolicyImitation(
        name="airl",
        make_aux=lambda seed: airl.init(dcfg, jax.random.PRNGKey(seed + 1), obs_dim, action_dim),
        aux_update=aux_update,
        reward_fn=reward_fn,
        metric_names=("disc_loss", "disc_acc_expert", "disc_acc_policy", "disc_entropy", "disc_grad_penalty"),
        reference_lines=reference_lines(cfg.env_id),
        on_finish=on_finish,
        config=cfg,
    )


def save_reward(path: Path, dcfg: airl.AIRLConfig, params, norm, expert_obs, expert_act, meta: dict) -> dict:
    """Write the frozen reward: g's and h's parameters (``params``, the discriminator's), the observation
    statistics, and the mean/std of g on the demonstration states that standardize it."""
    g = airl.reward(dcfg, params, norm_apply(norm, expert_obs), expert_act)
    scale = {"reward_mean": float(jnp.mean(g)), "reward_std": float(jnp.std(g) + 1e-6)}
    tree = {"g": params["g"], "h": params["h"], "norm": norm}
    atomic_write_bytes(path, pytree_to_bytes(tree, {**meta, **scale, "disc": dataclasses.asdict(dcfg)}))
    return scale


def reward_file_meta(path: Path) -> dict:
    """The metadata a reward file records (env id, seed, the discriminator config, g's standardization)."""
    try:
        return meta_from_bytes(path.read_bytes())
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UserError(f"cannot read the learned reward {path}: {e}") from None


def load_reward(path: Path, dcfg: airl.AIRLConfig, obs_dim: int, action_dim: int, normalize_obs: bool):
    """``({"g", "h", "norm"}, meta)`` from a reward file; ``h`` is None in files written before h was saved."""
    params = airl.init(dcfg, jax.random.PRNGKey(0), obs_dim, action_dim).params
    norm = norm_init(obs_dim) if normalize_obs else None
    try:
        data = path.read_bytes()
        try:
            return pytree_from_bytes({"g": params["g"], "h": params["h"], "norm": norm}, data)
        except ValueError:
            tree, meta = pytree_from_bytes({"g": params["g"], "norm": norm}, data)
            return dict(tree, h=None), meta
    except (OSError, ValueError, KeyError) as e:
        raise UserError(f"cannot read the learned reward {path}: {e}") from None


def run_airl(cfg: AIRLTrainConfig, run_dir: Path) -> dict:
    from jirl.loops.rollout import env_dims

    obs_dim, action_dim = env_dims(cfg.env_id)
    demos = load_expert(cfg, obs_dim, action_dim)
    expert_obs = jnp.asarray(demos.observations)
    expert_act = jnp.asarray(demos.normalized_actions())
    expert_next = jnp.asarray(demos.next_observations)
    expert_term = jnp.asarray(demos.terminated)
    lines = reference_lines(cfg.env_id)

    def on_finish(state, norm, run_dir, seed):
        scale = save_reward(
            Path(run_dir) / REWARD_FILE, cfg.disc, state.params, norm, expert_obs, expert_act, {"env_id": cfg.env_id, "seed": seed}
        )
        return {"reward_file": str(Path(run_dir) / REWARD_FILE), **scale}

    if cfg.learner == "sac":
        from jirl.loops.sac import train as sac_train

        imitation = make_sac_imitation(cfg, expert_obs, expert_act, expert_next, expert_term, obs_dim, action_dim, on_finish)
        summary = sac_train(off_policy_config(cfg), imitation)
    else:
        summary = run_onpolicy(
            cfg,
            "airl",
            make_aux=lambda seed: airl.init(cfg.disc, jax.random.PRNGKey(seed + 1), obs_dim, action_dim),
            relabel=make_relabel(cfg, expert_obs, expert_act, expert_next, expert_term),
            reference_lines=lines,
            init_fn=make_bc_init(cfg, expert_obs, expert_act) if cfg.bc_init else None,
            aux_loss=make_bc_loss(cfg, expert_obs, expert_act) if cfg.bc_coef > 0 else None,
            on_finish=on_finish,
        )
    summary["num_demos"] = cfg.num_demos
    summary["demos"] = str(cfg.demos or DEFAULT_DEMOS.get(cfg.env_id))
    summary["expert_demo_return"] = float(np.mean(demos.episode_returns))
    return summary


def stage1_dirs(cfg: AIRLTrainConfig, run_dir: Path) -> dict[int, Path]:
    """Seed -> the folder holding that seed's AIRL results (``reward.msgpack``)."""
    seeds = [cfg.seed + k for k in range(cfg.num_seeds)]
    return dict(zip(seeds, seed_run_dirs(run_dir, seeds), strict=True))


def check_reward_dir(cfg: AIRLTrainConfig, reward_dir: Path) -> None:
    """One-line errors, before anything is written, for a ``--reward-from`` folder that lacks a seed's reward
    file or holds one learned on another env or seed."""
    from jirl.loops.rollout import env_dims

    for seed, d in stage1_dirs(cfg, reward_dir).items():
        path = d / REWARD_FILE
        if not path.is_file():
            layout = "seed-<S>/reward.msgpack per seed" if cfg.num_seeds > 1 else "reward.msgpack"
            raise UserError(f"--reward-from {reward_dir}: no learned reward for seed {seed} ({path}); fix: give a folder with {layout} for seeds {cfg.seed}..{cfg.seed + cfg.num_seeds - 1}")
        _, meta = load_reward(path, cfg.disc, *env_dims(cfg.env_id), cfg.normalize_obs)
        check_reward_meta(cfg, path, meta, seed)


def check_reward_meta(cfg: AIRLTrainConfig, path: Path, meta: dict, seed: int) -> None:
    if meta.get("env_id", cfg.env_id) != cfg.env_id or meta.get("seed", seed) != seed:
        raise UserError(f"{path} was learned on {meta.get('env_id')} with seed {meta.get('seed')}, not {cfg.env_id} with seed {seed}; fix: match --env-id and --seed")


def transfer_aux(cfg: AIRLTrainConfig, run_dir: Path, obs_dim: int, action_dim: int):
    """``make_aux(seed)`` of the transfer run: agent ``S + 100`` gets seed ``S``'s frozen reward (g's
    parameters, its observation statistics, and the mean/std that standardize it), read from ``run_dir``."""
    dirs = stage1_dirs(cfg, run_dir)

    def make_aux(seed: int) -> dict:
        path = dirs[seed - 100] / REWARD_FILE
        frozen, meta = load_reward(path, cfg.disc, obs_dim, action_dim, cfg.normalize_obs)
        check_reward_meta(cfg, path, meta, seed - 100)
        if cfg.transfer_reward == "g":
            frozen = {k: v for k, v in frozen.items() if k != "h"}
        elif frozen["h"] is None:
            raise UserError(f"{path} holds no shaping potential h (written by an older jirl): --transfer-reward f needs it")
        return dict(frozen, mean=jnp.float32(meta["reward_mean"]), std=jnp.float32(meta["reward_std"]))

    return make_aux


def transfer_reward_fn(cfg: AIRLTrainConfig):
    """``reward_fn(aux, norm, batches)`` of the transfer agent (``aux`` from :func:`transfer_aux`): the frozen g,
    standardized, plus with ``--transfer-reward f`` the frozen shaping ``gamma (1 - done) h(s') - h(s)`` on the same
    scale. The agent's own ``norm`` is ignored: g and h read the observation statistics they were trained with."""
    dcfg = cfg.disc

    def reward_fn(aux, norm, batches):
        del norm
        obs_n = norm_apply(aux["norm"], batches.obs)
        g = airl.reward(dcfg, {"g": aux["g"]}, obs_n, batches.action)
        if cfg.transfer_reward == "g":
            return (g - aux["mean"]) / aux["std"]
        shaping = airl.shaping(dcfg, {"h": aux["h"]}, obs_n, norm_apply(aux["norm"], batches.next_obs), batches.terminated)
        return (g - aux["mean"] + shaping) / aux["std"]

    return reward_fn


def run_transfer(cfg: AIRLTrainConfig, run_dir: Path, resume: bool, reward_dir: Path | None = None) -> dict:
    """Stage 2: SAC from scratch on each seed's frozen, standardized g (seed S's agent has seed S + 100; K seeds
    train as one vmapped SAC run in ``run_dir/transfer``); evaluated on the true env reward. The rewards come
    from ``reward_dir`` (default: ``run_dir``, where stage 1 wrote them)."""
    from jirl.loops.rollout import env_dims
    from jirl.loops.sac import OffPolicyImitation
    from jirl.loops.sac import train as sac_train

    make_aux = transfer_aux(cfg, reward_dir or run_dir, *env_dims(cfg.env_id))

    reward_fn = transfer_reward_fn(cfg)

    lines = reference_lines(cfg.env_id)
    imitation = OffPolicyImitation(
        name="airl-transfer",
        make_aux=make_aux,
        aux_update=lambda aux, norm, buffer, key, actor_params: (aux, {}),
        reward_fn=reward_fn,
        metric_names=(),
        reference_lines=lines,
    )
    transfer_dir = run_dir / ("transfer" if cfg.transfer_reward == "g" else "transfer-f")
    resume = resume and (transfer_dir / "checkpoint.msgpack").is_file()
    scfg = off_policy_config(cfg, seed=cfg.seed + 100, total_steps=cfg.transfer_steps, num_envs=1, run_dir=str(transfer_dir), resume=resume)
    return sac_train(scfg, imitation)


def train(cfg: AIRLTrainConfig) -> dict:
    """Run AIRL (stage 1) and the reward transfer (stage 2); returns the summary printed as the last line."""
    if cfg.transfer_steps < 0:
        raise UserError("--transfer-steps must be >= 0 (0 skips the reward transfer)")
    ppo_learner = cfg.learner == "ppo"
    if not ppo_learner and cfg.disc.reward == "airl":
        raise UserError("--disc.reward airl (f - log pi) is for the ppo learner; SAC already adds its own entropy term: use --disc.reward f")
    dcfg = resolve_disc(cfg, noise_default=cfg.disc.input_noise)
    check_ranges("disc", dcfg, {"gamma": "(0,1]"})
    # 3M with PPO: the 3-seed curve was still rising at 2M (0.833 +- 0.040) and ended at 0.926 +- 0.019 at 3M (README)
    defaults = dict(total_steps=3_000_000, num_envs=8) if ppo_learner else dict(total_steps=300_000, num_envs=1)
    cfg = dataclasses.replace(cfg, total_steps=cfg.total_steps or defaults["total_steps"], num_envs=cfg.num_envs or defaults["num_envs"], disc=dcfg)
    learner_gamma = cfg.ppo.gamma if ppo_learner else cfg.sac.gamma
    if cfg.disc.gamma != learner_gamma:
        raise UserError(
            f"--disc.gamma {cfg.disc.gamma} must equal --{cfg.learner}.gamma {learner_gamma} (the shaping term assumes the learner's discount)"
        )
    run_dir = Path(cfg.run_dir or str(Path("runs") / f"airl-{cfg.env_id}-s{cfg.seed}" + (f"-x{cfg.num_seeds}" if cfg.num_seeds > 1 else "")))
    stage1_file = run_dir / STAGE1_SUMMARY
    if cfg.reward_from is not None:
        reward_dir = Path(cfg.reward_from)
        if not cfg.transfer_steps:
            raise UserError("--reward-from runs only the reward transfer: give --transfer-steps > 0")
        check_reward_dir(cfg, reward_dir)
        summary = {"reward_from": str(reward_dir)}
        if (reward_dir / STAGE1_SUMMARY).is_file():
            summary["stage1"] = json.loads((reward_dir / STAGE1_SUMMARY).read_text())
        run_dir.mkdir(parents=True, exist_ok=True)
        t = run_transfer(cfg, run_dir, cfg.resume, reward_dir)
        return {**summary, **transfer_summary(t)}
    if cfg.resume and stage1_file.is_file() and all((d / REWARD_FILE).is_file() for d in stage1_dirs(cfg, run_dir).values()):
        summary = json.loads(stage1_file.read_text())
        print(f"AIRL stage of {run_dir} is complete; continuing with the reward transfer", flush=True)
    else:
        summary = run_airl(dataclasses.replace(cfg, run_dir=str(run_dir)), run_dir)
        atomic_write_bytes(stage1_file, json.dumps(summary, indent=2).encode())
    if cfg.transfer_steps:
        summary.update(transfer_summary(run_transfer(cfg, run_dir, cfg.resume)))
    return summary


def transfer_summary(t: dict) -> dict:
    """The transfer run's headline figures, prefixed ``transfer_``."""
    heads = ("mean_return", "std_return", "normalized_score", "best_policy_fresh_mean_return", "best_policy_fresh_normalized_score")
    keep = lambda k: k in ("env_steps", "wall_s", "run_dir", "policy", "steps_per_s") or k.removesuffix("_std_over_seeds").removesuffix("_per_seed") in heads
    return {f"transfer_{k}": v for k, v in t.items() if keep(k)}
