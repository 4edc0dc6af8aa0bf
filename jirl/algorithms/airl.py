"""Adversarial Inverse RL (Fu, Luo & Levine 2018): a discriminator whose logit is a shaped reward.

The discriminator has the special form::

    D(s, a, s') = exp f(s, a, s') / (exp f(s, a, s') + pi(a | s))
    f(s, a, s') = g(s) + gamma * (1 - terminated) * h(s') - h(s)

so its logit is ``f(s, a, s') - log pi(a | s)`` (``D = sigmoid(logit)``). ``g`` is the reward approximator
(state-only by default, which is what lets the reward transfer to new dynamics; ``state_only=False`` gives
``g(s, a)``), ``h`` a shaping potential. At optimality ``g`` recovers the true reward up to a constant.
It is trained with the same binary cross-entropy as GAIL's discriminator (expert 1, policy 0) and through
the same :func:`jirl.algorithms.gail.adversarial_train_steps`; the generator's reward is the logit
``log D - log(1 - D) = f - log pi`` (``reward="airl"``, the paper's: the shaped reward plus an entropy
bonus) or ``f`` alone (``reward="f"``). ``log pi`` is supplied by the caller, for expert and policy samples
alike, from the current policy, so any stochastic policy (PPO's Gaussian, SAC's tanh-Gaussian) plugs in.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jirl.algorithms.gail import DiscState, adversarial_train_steps, classification_loss, gradient_penalty
from jirl.nets import MLP


@dataclasses.dataclass(frozen=True)
class AIRLConfig:
    """AIRL discriminator hyperparameters."""

    reward_hidden: tuple[int, ...] = ()
    """Hidden sizes of the reward approximator g. None (the default) makes g linear in the normalized state:
    on HalfCheetah it imitated better over 3 seeds than a (64, 64) MLP g and, unlike it, learned a reward that
    trains a fresh agent (the MLP g also pays for the expert's posture; README). E.g. --disc.reward-hidden 64 64."""
    shaping_hidden: tuple[int, ...] = (64, 64)
    """Hidden sizes of the shaping potential h."""
    state_only: bool = True
    """g(s) (disentangled, transferable) rather than g(s, a)."""
    gamma: float = 0.99
    """Discount in the shaping term; should equal the learner's."""
    learning_rate: float = 3e-4
    """Adam learning rate."""
    batch_size: int = 256
    """Expert and policy samples per discriminator step (each)."""
    steps_per_round: int | None = None
    """Discriminator steps per round: after each rollout with the ppo learner (default 8), per env step with
    the sac learner (default 1)."""
    reward: Literal["airl", "f"] = "f"
    """Generator reward: f = the shaped reward alone (default); airl = log D - log(1 - D) = f - log pi (the
    paper's, f plus an entropy bonus of weight 1: with PPO on HalfCheetah it drove the policy's entropy from 2.5
    to 10 in 1M steps and the score stayed below 0.55; README)."""
    grad_penalty: float = 10.0
    """Weight of the gradient penalty (||grad f(x_hat)|| - 1)^2 on f's inputs (s, s', and a when g(s, a)) at
    random expert/policy interpolates, as in GAIL's discriminator (0 turns it off)."""
    input_noise: float = 0.2
    """Std of Gaussian noise added to f's inputs (normalized s and s', and a when g(s, a)) on both sides in
    every discriminator step, as GAIL's --disc.input-noise; log pi is computed on the clean action (0 turns
    it off)."""
    entropy_bonus: float = 0.0
    """Weight of the mean binary entropy of D subtracted from the loss (keeps D from saturating)."""


@chex.dataclass(frozen=True)
class Transitions:
    """A batch of transitions ``[B, ...]``: normalized observations, actions in [-1, 1], normalized next
    observations, the termination flag, and the current policy's log-probability of the action."""

    obs: jax.Array
    action: jax.Array
    next_obs: jax.Array
    terminated: jax.Array
    log_pi: jax.Array


class _Scalar(nn.Module):
    """An MLP (ReLU) with one output, squeezed: ``[..., D] -> [...]``."""

    hidden: tuple[int, ...]

    @nn.compact
    def __call__(self, x):
        return MLP(self.hidden, 1, activation=nn.relu)(x)[..., 0]


def _nets(config: AIRLConfig):
    return _Scalar(tuple(config.reward_hidden)), _Scalar(tuple(config.shaping_hidden))


def _g_input(config: AIRLConfig, obs, action):
    return obs if config.state_only else jnp.concatenate([obs, action], axis=-1)


def init(config: AIRLConfig, key: chex.PRNGKey, obs_dim: int, action_dim: int) -> DiscState:
    g, h = _nets(config)
    kg, kh = jax.random.split(key)
    params = {
        "g": g.init(kg, jnp.zeros((1, obs_dim if config.state_only else obs_dim + action_dim))),
        "h": h.init(kh, jnp.zeros((1, obs_dim))),
    }
    return DiscState(params=params, opt_state=optax.adam(config.learning_rate).init(params))


def reward(config: AIRLConfig, params, obs: jax.Array, action: jax.Array | None = None) -> jax.Array:
    """The learned reward ``g(s)`` (or ``g(s, a)``): ``obs [..., D] -> [...]``. This is what transfers."""
    g, _ = _nets(config)
    if not config.state_only and action is None:
        raise ValueError("a state-action reward g(s, a) needs the action")
    return g.apply(params["g"], _g_input(config, obs, action))


def shaping(config: AIRLConfig, params, obs: jax.Array, next_obs: jax.Array, terminated: jax.Array) -> jax.Array:
    """The potential-based shaping term ``gamma (1 - terminated) h(s') - h(s)``, ``[...]``."""
    _, h = _nets(config)
    not_done = 1.0 - terminated.astype(obs.dtype)
    return config.gamma * not_done * h.apply(params["h"], next_obs) - h.apply(params["h"], obs)


def shaped_reward(config: AIRLConfig, params, batch: Transitions) -> jax.Array:
    """``f(s, a, s') = g(s) + gamma (1 - terminated) h(s') - h(s)``, ``[B]``."""
    return reward(config, params, batch.obs, batch.action) + shaping(config, params, batch.obs, batch.next_obs, batch.terminated)


def logits(config: AIRLConfig, params, batch: Transitions) -> jax.Array:
    """``log D - log(1 - D) = f(s, a, s') - log pi(a | s)``, ``[B]``."""
    chex.assert_rank(batch.log_pi, 1)
    return shaped_reward(config, params, batch) - batch.log_pi


def generator_reward(config: AIRLConfig, params, batch: Transitions) -> jax.Array:
    """The reward the RL learner maximizes (see ``AIRLConfig.reward``)."""
    return logits(config, params, batch) if config.reward == "airl" else shaped_reward(config, params, batch)


def _with_noise(config: AIRLConfig, batch: Transitions, key: chex.PRNGKey) -> Transitions:
    """``batch`` with ``config.input_noise`` Gaussian noise on f's inputs (the action only when g sees it)."""
    ko, ka, kn = jax.random.split(key, 3)
    noise = lambda k, x: x + config.input_noise * jax.random.normal(k, x.shape, x.dtype)
    action = batch.action if config.state_only else noise(ka, batch.action)
    return batch.replace(obs=noise(ko, batch.obs), action=action, next_obs=noise(kn, batch.next_obs))


def _f_penalty(config: AIRLConfig, params, expert: Transitions, policy: Transitions, key: chex.PRNGKey) -> jax.Array:
    """GAIL's gradient penalty applied to ``f`` as a function of ``(s, a, s')`` (concatenated per sample); the
    interpolate takes the policy sample's termination flag."""
    d_obs, d_act = expert.obs.shape[-1], expert.action.shape[-1]
    flat = lambda b: jnp.concatenate([b.obs, b.action, b.next_obs], axis=-1)

    def f_one(x, terminated):
        obs, action, next_obs = x[:d_obs], x[d_obs : d_obs + d_act], x[d_obs + d_act :]
        return reward(config, params, obs, action) + shaping(config, params, obs, next_obs, terminated)

    return gradient_penalty(f_one, flat(expert), flat(policy), key, policy.terminated)


def loss(config: AIRLConfig, params, expert: Transitions, policy: Transitions, key: chex.PRNGKey | None = None):
    """Binary cross-entropy of the AIRL discriminator on expert (label 1) and policy (label 0) transitions,
    with the optional input noise, entropy bonus and gradient penalty of ``config`` (these need ``key``)."""
    if config.input_noise:
        key, ke, kp = jax.random.split(key, 3)
        expert, policy = _with_noise(config, expert, ke), _with_noise(config, policy, kp)
    bce, metrics = classification_loss(logits(config, params, expert), logits(config, params, policy))
    total = bce - config.entropy_bonus * metrics["disc_entropy"]
    gp = jnp.zeros(())
    if config.grad_penalty:
        gp = _f_penalty(config, params, expert, policy, key)
        total = total + config.grad_penalty * gp
    return total, dict(metrics, disc_grad_penalty=gp)


def train_steps(config: AIRLConfig, state: DiscState, expert: Transitions, policy: Transitions, key: chex.PRNGKey, num_steps: int):
    """``num_steps`` Adam steps on minibatches drawn from ``expert`` and ``policy`` (one ``lax.scan``)."""
    return adversarial_train_steps(
        lambda p, e, q, k: loss(config, p, e, q, k), optax.adam(config.learning_rate), state, expert, policy, key, num_steps, config.batch_size
    )
