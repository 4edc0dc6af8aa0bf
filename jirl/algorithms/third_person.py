"""Third-person imitation learning with domain confusion (Stadie, Abbeel & Sutskever 2017).

The expert is only *seen*, from another viewpoint (domain A); the learner acts in its own (domain B). A
feature extractor ``F`` maps a frame to features. Two heads read them:

- the **behaviour discriminator** ``D_R(F(o_t), F(o_{t+1}))``: logit of P(expert) for a two-frame clip (the
  paper's multi-time-step input, from which velocities can be read), trained with expert clips as
  positives and, as negatives, the learner's clips *and* clips of non-expert behaviour in the expert's
  domain (without those, "expert" and "domain A" would be the same label and nothing could be learned);
- the **domain classifier** ``D_D(F(o))``: logit of P(domain A) of a single frame, trained through a
  gradient-reversal layer of weight ``lambda``: the head learns to tell the domains apart while the extractor
  receives ``-lambda`` times that gradient and learns features that carry no information about the domain.

The imitation reward is the usual GAIL reward of ``D_R``'s logit (:func:`jirl.algorithms.gail.reward_from_logits`)
and training goes through :func:`jirl.algorithms.gail.adversarial_train_steps`, so any learner that consumes
GAIL's discriminator (the DAC-style SAC loop in ``jirl/loops/third_person.py``) consumes this one.
``lambda = 0`` is cross-domain GAIL on pixels without domain confusion (the ablation).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jirl.algorithms.gail import DiscState, RewardKind, adversarial_train_steps, classification_loss, gradient_penalty, reward_from_logits
from jirl.nets import ConvEncoder, Discriminator

OWN_STATE_DIM = 2
"""The auxiliary head decodes the first two observation entries (Pendulum-v1: cos and sin of the angle)."""


@jax.custom_vjp
def gradient_reversal(x: jax.Array, scale: jax.Array) -> jax.Array:
    """Identity on the forward pass; multiplies the incoming gradient by ``-scale`` on the backward pass.
    ``scale`` gets a zero gradient."""
    return x


def _reversal_fwd(x, scale):
    return x, scale


def _reversal_bwd(scale, g):
    return -scale * g, jnp.zeros_like(scale)


gradient_reversal.defvjp(_reversal_fwd, _reversal_bwd)


@dataclasses.dataclass(frozen=True)
class ThirdPersonConfig:
    """Feature extractor, heads and losses of third-person imitation."""

    channels: tuple[int, ...] = (16, 16)
    """Channels of the strided 3x3 convolutions of the feature extractor."""
    features: int = 32
    """Feature size (tanh-bounded)."""
    normalize_frames: bool = True
    """Standardize every frame per colour channel before the feature extractor (removes global brightness and
    contrast differences between the views)."""
    hidden: tuple[int, ...] = (64,)
    """Hidden sizes (tanh) of the behaviour discriminator."""
    domain_hidden: tuple[int, ...] = (64,)
    """Hidden sizes (tanh) of the domain classifier."""
    domain_confusion: float = 1.0
    """lambda: weight of the reversed domain-classifier gradient in the feature extractor (0: no domain
    confusion, i.e. plain GAIL on pixels)."""
    learning_rate: float = 3e-4
    """Adam learning rate of extractor and heads."""
    batch_size: int = 64
    """Clips per discriminator step from each of: expert, learner, non-expert in the expert's domain."""
    steps_per_update: int = 1
    """Discriminator steps per learner env step (DAC: 1)."""
    grad_penalty: float = 10.0
    """Weight of the gradient penalty (||grad l|| - 1)^2 of the behaviour head with respect to its input
    features, on expert/learner interpolates (0 turns it off)."""
    domain_frames: Literal["all", "nonexpert"] = "all"
    """Frames of the expert's domain the domain classifier sees: all (expert and non-expert clips, as in the
    paper) or only the non-expert ones, whose behaviour matches a beginning learner's."""
    own_state_coef: float = 0.0
    """Weight of an auxiliary loss that decodes the learner's own observation from the features of its own
    frames (proprioception the learner has anyway); keeps the learner's features informative, which the
    domain classifier alone would let collapse. Needs ``others["learner_obs"]``."""
    reward: RewardKind = "gail"
    """Reward from the behaviour logit: gail = -log(1-D), logd = log D, airl = log D - log(1-D)."""


def _modules(config: ThirdPersonConfig):
    return ConvEncoder(config.channels, config.features, config.normalize_frames), Discriminator(config.hidden), Discriminator(config.domain_hidden)


def init(config: ThirdPersonConfig, key: chex.PRNGKey, frame_shape: tuple[int, int, int]) -> DiscState:
    """Parameters ``{"encoder", "behaviour", "domain", "own_state"}`` and their Adam state."""
    enc, beh, dom = _modules(config)
    k1, k2, k3, k4 = jax.random.split(key, 4)
    params = {
        "encoder": enc.init(k1, jnp.zeros((1, *frame_shape))),
        "behaviour": beh.init(k2, jnp.zeros((1, 2 * config.features))),
        "domain": dom.init(k3, jnp.zeros((1, config.features))),
        "own_state": nn.Dense(OWN_STATE_DIM).init(k4, jnp.zeros((1, config.features))),
    }
    return DiscState(params=params, opt_state=optax.adam(config.learning_rate).init(params))


def features(config: ThirdPersonConfig, params, frames: jax.Array) -> jax.Array:
    """``frames [..., H, W, C] -> [..., features]``."""
    return _modules(config)[0].apply(params["encoder"], frames)


def behaviour_logits_from_features(config: ThirdPersonConfig, params, f: jax.Array) -> jax.Array:
    """``f [..., 2, features]`` (frames t and t+1) -> logit of P(expert) ``[...]``."""
    return _modules(config)[1].apply(params["behaviour"], f.reshape(f.shape[:-2] + (-1,)))


def behaviour_logits(config: ThirdPersonConfig, params, clips: jax.Array) -> jax.Array:
    """Two-frame clips ``[..., 2, H, W, C]`` -> logit of P(expert) ``[...]``."""
    chex.assert_axis_dimension(clips, -4, 2)
    return behaviour_logits_from_features(config, params, features(config, params, clips))


def domain_logits(config: ThirdPersonConfig, params, f: jax.Array, scale: float | jax.Array = 0.0) -> jax.Array:
    """Logit of P(expert's domain) of features ``[..., features]``; the features pass through a gradient
    reversal of weight ``scale`` first (0: the head trains, the extractor gets no gradient from it)."""
    return _modules(config)[2].apply(params["domain"], gradient_reversal(f, jnp.asarray(scale, f.dtype)))


def reward(config: ThirdPersonConfig, params, clips: jax.Array) -> jax.Array:
    """Imitation reward of the learner's clips ``[..., 2, H, W, C] -> [...]``."""
    return reward_from_logits(behaviour_logits(config, params, clips), config.reward)


def loss(config: ThirdPersonConfig, params, expert: dict, others: dict, key: chex.PRNGKey):
    """Loss on ``expert = {"clips": [B, 2, H, W, C]}`` (expert, domain A) and ``others = {"learner": [B, 2, H, W, C]
    (domain B), "nonexpert": [B, 2, H, W, C] (domain A)}``.

    Behaviour head: binary cross-entropy with expert label 1 and the mean of the learner's and the
    non-expert's terms as the label-0 side. Domain head (through the reversal): frames of domain A (expert and
    non-expert) label 1, learner frames label 0, the two domains weighted equally.
    """
    e, q, n = expert["clips"], others["learner"], others["nonexpert"]
    chex.assert_rank([e, q, n], 5)
    chex.assert_equal_shape([e, q, n])
    B = e.shape[0]
    f = features(config, params, jnp.concatenate([e, q, n], axis=0))  # [3B, 2, F]
    fe, fq, fn = f[:B], f[B : 2 * B], f[2 * B :]
    le, lq, ln = (behaviour_logits_from_features(config, params, x) for x in (fe, fq, fn))
    bce_q, metrics = classification_loss(le, lq)
    bce_n, metrics_n = classification_loss(le, ln)
    behaviour = 0.5 * (bce_q + bce_n)
    f_a = jnp.concatenate([fe, fn], axis=0) if config.domain_frames == "all" else fn
    d_a = domain_logits(config, params, f_a, config.domain_confusion)
    d_b = domain_logits(config, params, fq, config.domain_confusion)
    domain = jnp.mean(optax.sigmoid_binary_cross_entropy(d_a, jnp.ones_like(d_a))) + jnp.mean(
        optax.sigmoid_binary_cross_entropy(d_b, jnp.zeros_like(d_b))
    )
    total = behaviour + domain
    own = jnp.zeros(())
    if config.own_state_coef:
        target = others["learner_obs"][:, :OWN_STATE_DIM]
        own = jnp.mean(jnp.sum((nn.Dense(OWN_STATE_DIM).apply(params["own_state"], fq[:, 0]) - target) ** 2, axis=-1))
        total = total + config.own_state_coef * own
    gp = jnp.zeros(())
    if config.grad_penalty:  # on the behaviour head only: the interpolated features carry no encoder gradient
        logit_fn = lambda x: behaviour_logits_from_features(config, params, x)
        gp = gradient_penalty(logit_fn, jax.lax.stop_gradient(fe), jax.lax.stop_gradient(fq), key)
        total = total + config.grad_penalty * gp
    domain_acc = 0.5 * (jnp.mean(d_a > 0) + jnp.mean(d_b < 0))
    metrics = dict(
        metrics,
        disc_loss=behaviour,
        disc_acc_nonexpert=metrics_n["disc_acc_policy"],
        domain_loss=domain,
        domain_acc=domain_acc,
        disc_grad_penalty=gp,
        own_state_loss=own,
    )
    return total, metrics


def train_steps(config: ThirdPersonConfig, state: DiscState, expert: dict, others: dict, key: chex.PRNGKey, num_steps: int) -> tuple[DiscState, dict]:
    """``num_steps`` Adam steps of :func:`loss` on ``batch_size`` clips drawn from each pool; one ``lax.scan``."""
    return adversarial_train_steps(
        lambda p, e, o, k: loss(config, p, e, o, k), optax.adam(config.learning_rate), state, expert, others, key, num_steps, config.batch_size
    )


def metric_names() -> tuple[str, ...]:
    return (
        "disc_loss",
        "disc_acc_expert",
        "disc_acc_policy",
        "disc_acc_nonexpert",
        "disc_entropy",
        "domain_loss",
        "domain_acc",
        "disc_grad_penalty",
        "own_state_loss",
    )
