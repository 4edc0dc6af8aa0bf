"""Generative Adversarial Imitation Learning (Ho & Ermon 2016): the discriminator and its rewards.

The discriminator outputs a **logit** ``l(x)`` of ``D(x) = P(expert | x)`` for an input ``x`` = (s, a) or
(s, s'). Everything is computed from logits: the loss is ``optax.sigmoid_binary_cross_entropy`` (expert
label 1, policy label 0) and the rewards are closed forms of the logit:

================  ===========================  =====================
reward kind       formula                      in terms of the logit
================  ===========================  =====================
``gail``          ``-log(1 - D)`` (default)    ``softplus(l)``
``logd``          ``log D``                    ``-softplus(-l)``
``airl``          ``log D - log(1 - D)``       ``l``
================  ===========================  =====================

The RL learner is pluggable: the PPO loop (``jirl/loops/gail.py``) and the SAC loop (DAC-style) call the same
functions.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import chex
import jax
import jax.numpy as jnp
import optax

from jirl.nets import Discriminator

RewardKind = Literal["gail", "logd", "airl"]


@dataclasses.dataclass(frozen=True)
class DiscriminatorConfig:
    """Discriminator hyperparameters."""

    hidden: tuple[int, ...] = (64, 64)
    """Hidden sizes (tanh)."""
    learning_rate: float = 3e-4
    """Adam learning rate."""
    batch_size: int = 256
    """Expert and policy samples per discriminator step (each)."""
    steps_per_round: int | None = None
    """Discriminator steps per round: after each 2,048-step rollout with the ppo learner (default 8), per env
    step with the sac learner (default 1, DAC's one discriminator update per policy update)."""
    input: Literal["sa", "ss"] = "sa"
    """Discriminator input: (state, action) or (state, next state)."""
    grad_penalty: float = 10.0
    """Weight of the gradient penalty (||grad_x l(x_hat)|| - 1)^2 on expert/policy interpolates (10 as in DAC;
    it also steadied GAIL with PPO on HalfCheetah; 0 turns it off)."""
    entropy_bonus: float = 0.0
    """Weight of the mean binary entropy of D subtracted from the loss (keeps D from saturating)."""
    reward: RewardKind = "gail"
    """Reward from the logit: gail = -log(1-D), logd = log D, airl = log D - log(1-D)."""
    input_noise: float | None = None
    """Std of Gaussian noise added to the expert and the policy inputs in every discriminator step ("instance
    noise": D sees a blurred version of the few expert samples, so its reward varies smoothly). Inputs are
    normalized states and actions in [-1, 1], so 0.1-0.3 is a mild to strong blur; 0 turns it off. None: 0.2
    with the ppo learner of experiments/gail.py (it reached 0.90 on more seeds; README), 0 with sac and elsewhere."""


@chex.dataclass(frozen=True)
class DiscState:
    params: Any
    opt_state: Any


def init(config: DiscriminatorConfig, key: chex.PRNGKey, input_dim: int) -> DiscState:
    params = Discriminator(config.hidden).init(key, jnp.zeros((1, input_dim)))
    return DiscState(params=params, opt_state=optax.adam(config.learning_rate).init(params))


def logits(config: DiscriminatorConfig, params, x: jax.Array) -> jax.Array:
    """``x [..., input_dim] -> logit [...]`` of P(expert)."""
    return Discriminator(config.hidden).apply(params, x)


def reward_from_logits(logit: jax.Array, kind: RewardKind = "gail") -> jax.Array:
    """Imitation reward from the discriminator logit (see the module table)."""
    if kind == "gail":
        return jax.nn.softplus(logit)
    if kind == "logd":
        return -jax.nn.softplus(-logit)
    if kind == "airl":
        return logit
    raise ValueError(f"unknown reward kind {kind!r}")


def binary_entropy_from_logits(logit: jax.Array) -> jax.Array:
    """Entropy of Bernoulli(sigmoid(logit)), computed stably from the logit."""
    p = jax.nn.sigmoid(logit)
    return -(p * jax.nn.log_sigmoid(logit) + (1.0 - p) * jax.nn.log_sigmoid(-logit))


def classification_loss(expert_logit: jax.Array, policy_logit: jax.Array) -> tuple[jax.Array, dict]:
    """Binary cross-entropy of a discriminator (expert label 1, policy label 0) from its logits, with the
    accuracy and entropy metrics every adversarial imitation method logs. Shared with AIRL."""
    le, lp = expert_logit, policy_logit
    bce = jnp.mean(optax.sigmoid_binary_cross_entropy(le, jnp.ones_like(le))) + jnp.mean(optax.sigmoid_binary_cross_entropy(lp, jnp.zeros_like(lp)))
    entropy = 0.5 * (jnp.mean(binary_entropy_from_logits(le)) + jnp.mean(binary_entropy_from_logits(lp)))
    metrics = {"disc_loss": bce, "disc_acc_expert": jnp.mean(le > 0), "disc_acc_policy": jnp.mean(lp < 0), "disc_entropy": entropy}
    return bce, metrics


def loss(config: DiscriminatorConfig, params, expert_x: jax.Array, policy_x: jax.Array, key: chex.PRNGKey):
    """Discriminator loss on a batch of expert inputs ``[B, D]`` and policy inputs ``[B, D]``."""
    chex.assert_rank([expert_x, policy_x], 2)
    chex.assert_equal_shape([expert_x, policy_x])
    if config.input_noise:
        key, ke, kp = jax.random.split(key, 3)
        expert_x = expert_x + config.input_noise * jax.random.normal(ke, expert_x.shape)
        policy_x = policy_x + config.input_noise * jax.random.normal(kp, policy_x.shape)
    bce, metrics = classification_loss(logits(config, params, expert_x), logits(config, params, policy_x))
    total = bce - config.entropy_bonus * metrics["disc_entropy"]
    gp = jnp.zeros(())
    if config.grad_penalty:
        gp = gradient_penalty(lambda x: logits(config, params, x), expert_x, policy_x, key)
        total = total + config.grad_penalty * gp
    return total, dict(metrics, disc_grad_penalty=gp)


def gradient_penalty(logit_fn, expert_x: jax.Array, policy_x: jax.Array, key: chex.PRNGKey, *per_sample) -> jax.Array:
    """``mean (||grad_x logit_fn(x_hat)|| - 1)^2`` over random interpolates ``x_hat`` of paired expert and policy
    samples ``[B, ...]`` (the norm over all non-batch axes); ``logit_fn(x, *args)`` maps one sample to a scalar
    logit. ``per_sample`` arrays ``[B, ...]`` are passed along, row by row, without being differentiated."""
    eps = jax.random.uniform(key, (expert_x.shape[0],) + (1,) * (expert_x.ndim - 1))
    x_hat = eps * expert_x + (1.0 - eps) * policy_x
    grads = jax.vmap(jax.grad(logit_fn))(x_hat, *per_sample)
    return jnp.mean((jnp.sqrt(jnp.sum(grads**2, axis=tuple(range(1, grads.ndim))) + 1e-12) - 1.0) ** 2)


def adversarial_train_steps(loss_fn, optimizer, state: DiscState, expert: Any, policy: Any, key: chex.PRNGKey, num_steps: int, batch_size: int):
    """``num_steps`` optimizer steps of ``loss_fn(params, expert_batch, policy_batch, key) -> (loss, metrics)``,
    each on ``batch_size`` samples drawn uniformly from the pytrees ``expert`` and ``policy`` (arrays with a
    leading sample axis); one ``lax.scan``. Returns the new state and metrics averaged over the steps. Every
    discriminator-style learner (GAIL, AIRL, domain confusion) trains through this."""
    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
    n_e = jax.tree_util.tree_leaves(expert)[0].shape[0]
    n_p = jax.tree_util.tree_leaves(policy)[0].shape[0]

    def step(s: DiscState, k):
        ke, kp, kg = jax.random.split(k, 3)
        ie, ip = jax.random.randint(ke, (batch_size,), 0, n_e), jax.random.randint(kp, (batch_size,), 0, n_p)
        e = jax.tree_util.tree_map(lambda x: x[ie], expert)
        q = jax.tree_util.tree_map(lambda x: x[ip], policy)
        (_, metrics), grads = grad_fn(s.params, e, q, kg)
        updates, opt_state = optimizer.update(grads, s.opt_state, s.params)
        return DiscState(params=optax.apply_updates(s.params, updates), opt_state=opt_state), metrics

    state, metrics = jax.lax.scan(step, state, jax.random.split(key, num_steps))
    return state, jax.tree_util.tree_map(jnp.mean, metrics)


def train_steps(
    config: DiscriminatorConfig, state: DiscState, expert_x: jax.Array, policy_x: jax.Array, key: chex.PRNGKey, num_steps: int
) -> tuple[DiscState, dict]:
    """``num_steps`` Adam steps, each on ``batch_size`` samples drawn uniformly from ``expert_x [E, D]`` and
    ``policy_x [P, D]``; one ``lax.scan``. Returns the new state and metrics averaged over the steps."""
    return adversarial_train_steps(
        lambda p, e, q, k: loss(config, p, e, q, k), optax.adam(config.learning_rate), state, expert_x, policy_x, key, num_steps, config.batch_size
    )
