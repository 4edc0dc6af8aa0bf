"""Behaviour cloning: supervised learning of a policy on (observation, action) pairs.

The policy is anything with a per-sample loss ``loss_one(params, obs [D], action [A]) -> scalar``; the
helpers below build it for the Gaussian policies of :mod:`jirl.nets` (log-likelihood or mean squared error
of the mean). :func:`fit` is one pure, jit-able program: a ``lax.while_loop`` over epochs, each a ``lax.scan``
over shuffled minibatches, keeping the parameters with the best validation loss and stopping after
``patience`` epochs without improvement. Everything is a function of the key, so ``jax.vmap`` over keys
trains several seeds in one compiled program.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Literal

import chex
import jax
import jax.numpy as jnp
import optax

from jirl.nets import gaussian_log_prob, tanh_log_det_jacobian


@dataclasses.dataclass(frozen=True)
class BCConfig:
    """Behaviour-cloning hyperparameters."""

    loss: Literal["nll", "mse"] = "mse"
    """nll: Gaussian negative log-likelihood (mean and log-std); mse: squared error of the mean action."""
    learning_rate: float = 1e-3
    """Adam learning rate."""
    batch_size: int = 256
    """Transitions per gradient step (capped at the training-set size)."""
    max_epochs: int = 300
    """Upper bound on passes over the training split."""
    patience: int = 30
    """Stop after this many epochs without a better validation loss."""
    val_fraction: float = 0.1
    """Share of the transitions held out for early stopping (0: no split, train for max_epochs)."""
    weight_decay: float = 0.0
    """Decoupled weight decay (AdamW)."""
    lr_schedule: Literal["constant", "cosine"] = "constant"
    """constant: the learning rate throughout; cosine: decays to 0 over max_epochs (early stopping may end
    the fit sooner, at whatever rate it has reached)."""


def gaussian_loss(apply_fn: Callable, kind: str) -> Callable:
    """Per-sample loss of a policy ``apply_fn(params, obs) -> (mean, log_std)`` whose actions live in the
    same units as the targets (PPO's Gaussian: [-1, 1] targets, no squashing)."""

    def loss_one(params, obs, action):
        mean, log_std = apply_fn(params, obs)
        if kind == "nll":
            return -gaussian_log_prob(action, mean, log_std)
        return jnp.sum((mean - action) ** 2)

    return loss_one


def tanh_gaussian_loss(apply_fn: Callable, kind: str, eps: float = 1e-4) -> Callable:
    """Per-sample loss of a tanh-squashed Gaussian policy ``apply_fn(params, obs) -> (mean, log_std)`` of the
    pre-squash ``u`` (SAC's actor), for targets in [-1, 1]. ``nll``: ``-log pi(a | s)`` with the tanh
    correction, at ``u = atanh(a)`` (targets clipped to ``1 - eps`` so that the expert's saturated actions stay
    finite); ``mse``: squared error of the deterministic action ``tanh(mean)`` (a deterministic policy)."""

    def loss_one(params, obs, action):
        mean, log_std = apply_fn(params, obs)
        if kind == "nll":
            u = jnp.arctanh(jnp.clip(action, -1.0 + eps, 1.0 - eps))
            return -(gaussian_log_prob(u, mean, log_std) - tanh_log_det_jacobian(u))
        return jnp.sum((jnp.tanh(mean) - action) ** 2)

    return loss_one


@chex.dataclass(frozen=True)
class BCResult:
    params: Any  # the parameters with the best validation loss
    best_val_loss: jax.Array
    epochs: jax.Array  # epochs run before stopping
    train_loss: jax.Array  # mean training loss of the last epoch


def learning_rate(config: BCConfig, steps_per_epoch: int):
    """Adam's step size: ``config.learning_rate``, or (cosine) a schedule over gradient steps that falls from it to
    0 at ``max_epochs * steps_per_epoch``."""
    if config.lr_schedule == "constant":
        return config.learning_rate
    if config.lr_schedule == "cosine":
        return optax.cosine_decay_schedule(config.learning_rate, decay_steps=max(config.max_epochs * steps_per_epoch, 1))
    raise ValueError(f"unknown lr_schedule {config.lr_schedule!r} (constant or cosine)")


def split(num: int, val_fraction: float, key: chex.PRNGKey) -> tuple[jax.Array, jax.Array]:
    """Shuffled (train, validation) index arrays; sizes depend only on ``num`` and ``val_fraction``."""
    num_val = int(round(num * val_fraction)) if val_fraction > 0 else 0
    if num_val >= num:
        raise ValueError(f"val_fraction {val_fraction} leaves no training data out of {num} transitions")
    perm = jax.random.permutation(key, num)
    return perm[num_val:], perm[:num_val]


def fit(config: BCConfig, loss_one: Callable, params, obs: jax.Array, actions: jax.Array, key: chex.PRNGKey) -> BCResult:
    """Train ``params`` to minimise ``mean(loss_one)`` on ``(obs [B, D], actions [B, A])`` with early stopping.

    Pure and jit-able (``config`` and ``loss_one`` static). The validation split is drawn from ``key``; with
    ``val_fraction == 0`` the training loss stands in for the validation loss.
    """
    chex.assert_rank([obs, actions], 2)
    chex.assert_equal_shape_prefix([obs, actions], 1)
    k_split, k_loop = jax.random.split(key)
    train_idx, val_idx = split(obs.shape[0], config.val_fraction, k_split)
    n_train = train_idx.shape[0]
    bs = min(config.batch_size, n_train)
    num_mb = n_train // bs
    x_tr, y_tr = obs[train_idx], actions[train_idx]
    x_val, y_val = (obs[val_idx], actions[val_idx]) if val_idx.shape[0] else (x_tr, y_tr)
    opt = optax.adamw(learning_rate(config, num_mb), weight_decay=config.weight_decay)
    batch_loss = lambda p, x, y: jnp.mean(jax.vmap(loss_one, in_axes=(None, 0, 0))(p, x, y))
    grad_fn = jax.value_and_grad(batch_loss)

    def mb_step(carry, idx):
        p, s = carry
        loss, g = grad_fn(p, x_tr[idx], y_tr[idx])
        updates, s = opt.update(g, s, p)
        return (optax.apply_updates(p, updates), s), loss

    def epoch(c):
        k, k_perm = jax.random.split(c["key"])
        perm = jax.random.permutation(k_perm, n_train)[: num_mb * bs].reshape(num_mb, bs)
        (p, s), losses = jax.lax.scan(mb_step, (c["params"], c["opt_state"]), perm)
        val = batch_loss(p, x_val, y_val)
        better = val < c["best_val"]
        pick = lambda new, old: jax.tree_util.tree_map(lambda a, b: jnp.where(better, a, b), new, old)
        return {
            "params": p,
            "opt_state": s,
            "best": pick(p, c["best"]),
            "best_val": jnp.where(better, val, c["best_val"]),
            "since_best": jnp.where(better, 0, c["since_best"] + 1),
            "epoch": c["epoch"] + 1,
            "train_loss": jnp.mean(losses),
            "key": k,
        }

    def keep_going(c):
        return (c["epoch"] < config.max_epochs) & (c["since_best"] < config.patience)

    init = {
        "params": params,
        "opt_state": opt.init(params),
        "best": params,
        "best_val": batch_loss(params, x_val, y_val),
        "since_best": jnp.int32(0),
        "epoch": jnp.int32(0),
        "train_loss": jnp.float32(jnp.nan),
        "key": k_loop,
    }
    c = jax.lax.while_loop(keep_going, epoch, init)
    return BCResult(params=c["best"], best_val_loss=c["best_val"], epochs=c["epoch"], train_loss=c["train_loss"])
