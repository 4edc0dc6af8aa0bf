"""GAIL with a PPO generator: each round collects fresh policy rollouts, trains the discriminator on them
against expert samples, relabels the rollout's rewards from the discriminator's logits and runs the PPO
update, all updates in one jitted call per round (the on-policy driver of ``jirl/loops/ppo.py``).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np

from jirl.algorithms import bc, gail, ppo, sac
from jirl.buffers import buffer_sample
from jirl.data import DemoError, load_demonstrations
from jirl.envs.normalize import norm_apply, norm_init, norm_update
from jirl.loops.common import UserError, check_ranges, stack_trees
from jirl.loops.ppo import Rollout, run_onpolicy
from jirl.references import EXPERTS_DIR, reference_lines

DEFAULT_DEMOS = {"HalfCheetah-v5": EXPERTS_DIR / "HalfCheetah-v5" / "demos.npz"}


@dataclasses.dataclass(frozen=True)
class GAILTrainConfig:
    """GAIL (PPO generator) from expert demonstrations; defaults reproduce the benchmark on HalfCheetah-v5."""

    env_id: str = "HalfCheetah-v5"
    """Gymnasium env id; must match the demonstrations."""
    learner: Literal["ppo", "sac"] = "ppo"
    """RL learner: ppo (on-policy GAIL) or sac (off-policy, DAC-style: replay samples as the policy side,
    gradient penalty on)."""
    demos: str | None = None
    """Demonstrations .npz (default: the shipped expert demonstrations of --env-id)."""
    num_demos: int = 4
    """Number of expert episodes used (the first ones in the file)."""
    seed: int = 0
    """Seed of everything."""
    num_seeds: int = 1
    """Train the seeds seed, ..., seed+K-1 as K independent agents in one compiled program
    (vmapped over seeds; K x num_envs envs). Each seed gets its own folder run_dir/seed-<S> (metrics, curve,
    checkpoint, policies) with the same results as a separate run with that seed; run_dir gets curve.png with
    every seed and summary.json with the mean and spread."""
    total_steps: int | None = None
    """Env steps to train for (default: 2,000,000 with ppo, 300,000 with sac; ppo rounds up to whole rollouts)."""
    num_envs: int | None = None
    """Parallel envs (default: 8 with ppo, where a rollout is num_envs x ppo.num_steps transitions; 1 with sac)."""
    env_workers: int | None = None
    """ppo learner: worker processes that collect the training rollouts, each running its envs' whole rollout (acting
    included) with one message per round (0: in this process, where HalfCheetah-v5's physics runs on 2 threads
    with >= 8 envs on >= 2 cores). Default: 2 with >= 8 envs on >= 2 cores, else 0 (JIRL_ENV_WORKERS=N sets it).
    Results are identical for any number."""
    backend: Literal["gym", "mjx"] = "gym"
    """ppo learner: training envs in Gymnasium through the NumPy bridge (gym) or in jirl's pure-JAX twin of
    HalfCheetah-v5 (mjx; needs pip install -e ".[mjx]"), where rollout, discriminator and PPO update of a round
    are one compiled call on the device. Evaluation always runs in Gymnasium."""
    normalize_obs: bool = True
    """Normalize observations (policy and discriminator inputs) with running statistics."""
    normalize_reward: bool = True
    """Scale the discriminator rewards by the running std of the discounted return."""
    eval_every: int = 50_000
    """Evaluate the deterministic policy on the true env reward about every this many env steps."""
    eval_episodes: int = 10
    """Episodes per evaluation."""
    checkpoint_every: int = 100_000
    """Write a resumable checkpoint about every this many env steps (0: only at the end)."""
    run_dir: str | None = None
    """Output folder (default: runs/gail-<env>-s<seed>)."""
    resume: bool = False
    """Continue the run in run_dir from its last checkpoint."""
    learning_starts: int = 5_000
    """sac learner: random-action steps before the first update."""
    buffer_size: int = 1_000_000
    """sac learner: replay capacity."""
    log_every: int = 1_000
    """sac learner: write training metrics every this many env steps (ppo logs every rollout)."""
    bc_init: bool = True
    """ppo learner: start the policy from behaviour cloning on the demonstrations (mean action by --bc.loss;
    the log-std stays at --ppo.init-log-std) and the observation statistics from the demonstrations."""
    critic_warmup_rounds: int = 5
    """ppo learner: rounds at the start that train only the critic (and the discriminator), so the first
    policy updates of a cloned policy use sensible advantages."""
    bc_coef: float = 1.0
    """ppo learner: weight of a behaviour-cloning term (squared error of the policy mean on a minibatch of
    expert pairs) added to every PPO minibatch loss; 0 turns it off."""
    bc_decay: bool = True
    """Decay --bc-coef linearly to 0 over the run (pure GAIL at the end)."""
    ppo: ppo.PPOConfig = ppo.PPOConfig(hidden=(256, 256), init_log_std=-1.0, learning_rate=1e-4, num_steps=256, minibatch_size=256)
    sac: sac.SACConfig = sac.SACConfig()
    disc: gail.DiscriminatorConfig = gail.DiscriminatorConfig()
    bc: bc.BCConfig = bc.BCConfig()


def disc_inputs(kind: str, norm, obs, action, next_obs):
    """Discriminator inputs ``[..., D]``: normalized state with the action in [-1, 1] (``sa``) or with the
    normalized next state (``ss``)."""
    s = norm_apply(norm, obs)
    other = jnp.clip(action, -1.0, 1.0) if kind == "sa" else norm_apply(norm, next_obs)
    return jnp.concatenate([s, other], axis=-1)


def load_expert(cfg: GAILTrainConfig, obs_dim: int, action_dim: int):
    path = cfg.demos or DEFAULT_DEMOS.get(cfg.env_id)
    if path is None:
        raise UserError(f"no shipped demonstrations for {cfg.env_id}; pass --demos PATH")
    if cfg.num_demos < 1:
        raise UserError("--num-demos must be >= 1")
    try:
        demos = load_demonstrations(path, env_id=cfg.env_id, obs_dim=obs_dim, action_dim=action_dim)
        demos = demos.select_episodes(cfg.num_demos)
    except DemoError as e:
        raise UserError(str(e)) from None
    return demos


def make_relabel(dcfg: gail.DiscriminatorConfig, expert_obs, expert_act, expert_next_obs):
    """The GAIL ``relabel`` hook: train the discriminator on the rollout vs the expert, score the rollout."""

    def relabel(disc_state, norm, rollout: Rollout, key, params=None):
        T, N = rollout.reward.shape
        policy_x = disc_inputs(dcfg.input, norm, rollout.obs, rollout.action, rollout.final_obs).reshape(T * N, -1)
        expert_x = disc_inputs(dcfg.input, norm, expert_obs, expert_act, expert_next_obs)
        disc_state, metrics = gail.train_steps(dcfg, disc_state, expert_x, policy_x, key, dcfg.steps_per_round)
        logits = gail.logits(dcfg, disc_state.params, policy_x)
        rewards = gail.reward_from_logits(logits, dcfg.reward).reshape(T, N)
        metrics = dict(metrics, disc_reward_mean=jnp.mean(rewards), env_reward_mean=jnp.mean(rollout.reward))
        return disc_state, rewards, metrics

    return relabel


def make_bc_init(cfg: GAILTrainConfig, expert_obs: jax.Array, expert_act: jax.Array):
    """``init_fn`` for the on-policy driver: observation statistics from the demonstrations, then the PPO
    actor fitted to the expert's actions by :func:`jirl.algorithms.bc.fit`."""
    pcfg = cfg.ppo
    actor, _ = ppo._modules(pcfg, expert_act.shape[-1])
    loss_one = bc.gaussian_loss(actor.apply, cfg.bc.loss)

    @jax.jit
    @jax.vmap
    def fit(params, norm, key):  # one fit per seed, all seeds in one program
        return bc.fit(cfg.bc, loss_one, params, norm_apply(norm, expert_obs), expert_act, key)

    def init_fn(state: ppo.PPOState, norm, seeds: list[int]):
        if norm is not None:
            norm = stack_trees([norm_update(norm_init(expert_obs.shape[-1]), expert_obs)] * len(seeds))
        res = fit(state.params["actor"], norm, jnp.stack([jax.random.PRNGKey(s + 2) for s in seeds]))
        actor = {"params": dict(res.params["params"], log_std=state.params["actor"]["params"]["log_std"])}  # exploration std stays
        state = state.replace(params=dict(state.params, actor=actor))
        return state, norm, [{"bc_epochs": int(e), "bc_val_loss": float(v)} for e, v in zip(res.epochs, res.best_val_loss, strict=True)]

    return init_fn


def make_bc_loss(cfg: GAILTrainConfig, expert_obs: jax.Array, expert_act: jax.Array):
    """The behaviour-cloning regularizer of the PPO loss: ``bc_coef * mean ||mu(s) - a||^2`` over a random
    minibatch of expert pairs, the weight decayed linearly to 0 with ``bc_decay``."""
    actor, _ = ppo._modules(cfg.ppo, expert_act.shape[-1])
    loss_one = bc.gaussian_loss(actor.apply, "mse")
    n = expert_obs.shape[0]

    def aux_loss(params, norm, progress, key):
        idx = jax.random.randint(key, (cfg.ppo.minibatch_size,), 0, n)
        x = norm_apply(norm, expert_obs[idx])
        loss = jnp.mean(jax.vmap(loss_one, in_axes=(None, 0, 0))(params["actor"], x, expert_act[idx]))
        weight = cfg.bc_coef * (1.0 - progress) if cfg.bc_decay else cfg.bc_coef
        return weight * loss

    return aux_loss


def resolve_disc(cfg: GAILTrainConfig, noise_default: float):
    """``cfg.disc`` (GAIL's or AIRL's discriminator config) with its learner-dependent defaults filled in and
    checked: ``steps_per_round`` None -> 8 per PPO round / 1 per SAC env step, ``input_noise`` None ->
    ``noise_default``. Also refuses ``--backend mjx`` with the SAC learner."""
    if cfg.backend != "gym" and cfg.learner != "ppo":
        raise UserError("--backend mjx needs --learner ppo (the SAC learner steps Gymnasium envs)")
    dcfg = cfg.disc
    if dcfg.steps_per_round is None:
        dcfg = dataclasses.replace(dcfg, steps_per_round=8 if cfg.learner == "ppo" else 1)
    if dcfg.input_noise is None:
        dcfg = dataclasses.replace(dcfg, input_noise=noise_default)
    rules = {"steps_per_round": ">=1", "input_noise": ">=0", "learning_rate": ">0", "batch_size": ">=1", "grad_penalty": ">=0", "entropy_bonus": ">=0"}
    check_ranges("disc", dcfg, rules)
    return dcfg


def train(cfg: GAILTrainConfig) -> dict:
    """Train GAIL; returns the summary printed as the final JSON line."""
    from jirl.loops.rollout import env_dims

    obs_dim, action_dim = env_dims(cfg.env_id)
    demos = load_expert(cfg, obs_dim, action_dim)
    expert_obs = jnp.asarray(demos.observations)
    expert_act = jnp.asarray(demos.normalized_actions())
    expert_next = jnp.asarray(demos.next_observations)
    dcfg = resolve_disc(cfg, noise_default=0.2 if cfg.learner == "ppo" else 0.0)
    input_dim = obs_dim + (action_dim if dcfg.input == "sa" else obs_dim)
    make_disc = lambda seed: gail.init(dcfg, jax.random.PRNGKey(seed + 1), input_dim)

    lines = reference_lines(cfg.env_id)
    if cfg.learner == "ppo":
        cfg = dataclasses.replace(cfg, total_steps=cfg.total_steps or 2_000_000, num_envs=cfg.num_envs or 8, disc=dcfg)
        relabel = make_relabel(dcfg, expert_obs, expert_act, expert_next)
        init_fn = make_bc_init(cfg, expert_obs, expert_act) if cfg.bc_init else None
        aux_loss = make_bc_loss(cfg, expert_obs, expert_act) if cfg.bc_coef > 0 else None
        summary = run_onpolicy(cfg, "gail", make_aux=make_disc, relabel=relabel, reference_lines=lines, init_fn=init_fn, aux_loss=aux_loss)
    else:
        summary = train_dac(dataclasses.replace(cfg, disc=dcfg), make_disc, expert_obs, expert_act, expert_next, lines)
    summary["num_demos"] = cfg.num_demos
    summary["demos"] = str(cfg.demos or DEFAULT_DEMOS.get(cfg.env_id))
    summary["expert_demo_return"] = float(np.mean(demos.episode_returns))
    return summary


def train_dac(cfg: GAILTrainConfig, make_disc, expert_obs, expert_act, expert_next, lines: dict) -> dict:
    """Off-policy GAIL (DAC-style, Kostrikov et al. 2019): SAC learns from replayed transitions whose rewards
    come from the current discriminator; the discriminator sees replay samples as the policy side.
    (HalfCheetah never terminates, so DAC's absorbing-state treatment is not needed and not implemented.)"""
    from jirl.loops.sac import OffPolicyImitation
    from jirl.loops.sac import train as sac_train

    dcfg = cfg.disc

    def aux_update(disc, norm, buffer, key, actor_params=None):
        k_sample, k_train = jax.random.split(key)
        rows = buffer_sample(buffer, k_sample, dcfg.batch_size * dcfg.steps_per_round)
        policy_x = disc_inputs(dcfg.input, norm, rows.obs, rows.action, rows.next_obs)
        expert_x = disc_inputs(dcfg.input, norm, expert_obs, expert_act, expert_next)
        return gail.train_steps(dcfg, disc, expert_x, policy_x, k_train, dcfg.steps_per_round)

    def reward_fn(disc, norm, batches):
        x = disc_inputs(dcfg.input, norm, batches.obs, batches.action, batches.next_obs)
        return gail.reward_from_logits(gail.logits(dcfg, disc.params, x), dcfg.reward)

    imitation = OffPolicyImitation(
        name="dac",
        make_aux=make_disc,
        aux_update=aux_update,
        reward_fn=reward_fn,
        metric_names=("disc_loss", "disc_acc_expert", "disc_acc_policy", "disc_entropy", "disc_grad_penalty"),
        reference_lines=lines,
        config=cfg,
    )
    return sac_train(off_policy_config(cfg), imitation)


def off_policy_config(cfg: GAILTrainConfig, **changes):
    """The SAC driver's config for an off-policy imitation run of ``cfg`` (DAC, AIRL with SAC), with ``changes``."""
    from jirl.loops.sac import SACTrainConfig

    fields = dict(
        env_id=cfg.env_id,
        seed=cfg.seed,
        num_seeds=cfg.num_seeds,
        total_steps=cfg.total_steps or 300_000,
        learning_starts=cfg.learning_starts,
        buffer_size=cfg.buffer_size,
        num_envs=cfg.num_envs or 1,
        normalize_obs=cfg.normalize_obs,
        eval_every=cfg.eval_every,
        eval_episodes=cfg.eval_episodes,
        log_every=cfg.log_every,
        checkpoint_every=cfg.checkpoint_every,
        run_dir=cfg.run_dir,
        resume=cfg.resume,
        sac=cfg.sac,
    )
    return SACTrainConfig(**{**fields, **changes})
