"""Flax (linen) networks shared by every algorithm.

We use ``flax.linen`` rather than ``nnx``: linen modules are stateless descriptions and their parameters are
plain pytrees, so every update in jirl is a pure function ``update(state, batch, key)`` of pytrees that
``jax.jit``, ``jax.lax.scan`` and ``jax.vmap`` (over seeds) handle with no extra ceremony, and checkpoints
are just serialized pytrees.

Shapes: every module takes a batch ``[B, ...]`` (or any number of leading dims) and maps over it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

LOG_STD_MIN = -5.0
LOG_STD_MAX = 2.0
_LOG2 = jnp.log(2.0)


def orthogonal(scale: float = 1.0):
    """Orthogonal initializer: the same matrix as ``flax.linen.initializers.orthogonal(scale)`` (the Q factor, with
    R's diagonal made positive, of the QR of the same standard-normal draw) up to float rounding, computed with
    plain XLA ops (two passes of Gram-Schmidt per column in a ``fori_loop``) instead of LAPACK's QR.

    Why: with jaxlib 0.10.2 on a 2-core CPU a *jitted, vmapped* initialization (K seeds in one program, as
    DAgger's refit does every round) runs several batched LAPACK QR kernels at once; each waits for work it
    has queued on the intra-op thread pool that the others occupy, and the process deadlocks forever
    (``experiments/init_hang_check.py`` counts hangs; ``tests/test_nets.py`` runs the loop in a subprocess with a timeout). Plain XLA ops do not nest
    thread-pool work that way.
    """

    def init(key, shape, dtype=jnp.float32):
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = jax.random.normal(key, (cols, rows) if rows < cols else (rows, cols), dtype)
        q = _orthonormal_columns(a)
        return scale * (q.T if rows < cols else q).reshape(shape)

    return init


def _orthonormal_columns(a: jax.Array) -> jax.Array:
    """Q of the thin QR ``a = QR`` (``a [m, n]``, m >= n, full rank) with ``diag(R) > 0``: classical Gram-Schmidt
    applied twice per column (orthogonal to float precision)."""

    def column(j, q):
        v = a[:, j]
        for _ in range(2):
            v = v - q @ (q.T @ v)  # columns >= j of q are still zero
        return q.at[:, j].set(v / jnp.sqrt(jnp.sum(v * v)))

    return jax.lax.fori_loop(0, a.shape[1], column, jnp.zeros_like(a))


def default_init(scale: float = jnp.sqrt(2.0)):
    return orthogonal(scale)


class MLP(nn.Module):
    """Plain multi-layer perceptron: ``[..., in] -> [..., out_dim]`` (no activation on the output)."""

    hidden: Sequence[int]
    out_dim: int
    activation: Callable = nn.relu
    out_scale: float = 1.0

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for h in self.hidden:
            x = self.activation(nn.Dense(h, kernel_init=default_init())(x))
        return nn.Dense(self.out_dim, kernel_init=default_init(self.out_scale))(x)


def mlp_numpy(params, x, activation: Callable = None):
    """:class:`MLP` evaluated in NumPy on the host: ``params`` is an MLP's parameter dict (``Dense_0`` ...
    ``Dense_n`` with ``kernel``/``bias``) as NumPy arrays, optionally with a leading batch axis K on every leaf
    (K stacked seeds: ``kernel [K, in, out]``, ``x [K, N, in]``). ``activation`` (default ``np.tanh``) follows
    every layer but the last, as in :class:`MLP`.

    Why: acting through the Gymnasium bridge evaluates a 64x64 policy on a handful of rows per env step; a
    JAX dispatch cost 55-67 us there for 8 envs, NumPy 19-34 us (``experiments/profile_acting.py``, 2-core
    CPU). Equal to ``MLP.apply`` up to float rounding (``tests/test_nets.py``)."""
    return mlp_numpy_layers(mlp_numpy_params(params), x, activation)


def mlp_numpy_params(params) -> list[tuple[np.ndarray, np.ndarray]]:
    """An MLP's parameter dict as the ``[(kernel, bias), ...]`` list :func:`mlp_numpy_layers` takes, in layer order,
    with a 3-D bias ``[K, 1, out]`` where the kernels carry a seed axis. Checked once here rather than per call."""
    if set(params) != {f"Dense_{i}" for i in range(len(params))}:
        raise ValueError(f"mlp_numpy: expected layers Dense_0..Dense_{len(params) - 1}, got {sorted(params)}")
    layers = []
    for i in range(len(params)):
        kernel, bias = params[f"Dense_{i}"]["kernel"], params[f"Dense_{i}"]["bias"]
        layers.append((kernel, bias[..., None, :] if kernel.ndim == 3 else bias))
    return layers


def mlp_numpy_layers(layers: list[tuple[np.ndarray, np.ndarray]], x, activation: Callable = None):
    """:func:`mlp_numpy` on layers from :func:`mlp_numpy_params` (the per-step acting path: no dict look-ups)."""
    activation = np.tanh if activation is None else activation
    last = len(layers) - 1
    for i, (kernel, bias) in enumerate(layers):
        x = np.matmul(x, kernel) + bias
        if i < last:
            x = activation(x)
    return x


class TanhGaussianActor(nn.Module):
    """SAC actor: a Gaussian over pre-squash actions ``u`` with ``a = tanh(u)`` in ``[-1, 1]``.

    Returns ``(mean, log_std)`` of ``u``, each ``[..., action_dim]``; ``log_std`` is squashed smoothly into
    ``[LOG_STD_MIN, LOG_STD_MAX]``.
    """

    hidden: Sequence[int]
    action_dim: int

    @nn.compact
    def __call__(self, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        out = MLP(self.hidden, 2 * self.action_dim, out_scale=0.01)(obs)
        mean, log_std = jnp.split(out, 2, axis=-1)
        log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (jnp.tanh(log_std) + 1.0)
        return mean, log_std


class GaussianActor(nn.Module):
    """PPO actor: Gaussian with a learned, state-independent log-std. Returns ``(mean, log_std)``."""

    hidden: Sequence[int]
    action_dim: int
    init_log_std: float = 0.0

    @nn.compact
    def __call__(self, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        mean = MLP(self.hidden, self.action_dim, activation=nn.tanh, out_scale=0.01)(obs)
        log_std = self.param("log_std", nn.initializers.constant(self.init_log_std), (self.action_dim,))
        return mean, jnp.broadcast_to(log_std, mean.shape)


class QEnsemble(nn.Module):
    """``num_qs`` independent Q-networks as one vmapped module: ``(obs, act) -> [num_qs, ...]``.

    Parameters carry a leading ``num_qs`` axis, so the twin critics run as batched matmuls in one pass.
    """

    hidden: Sequence[int]
    num_qs: int = 2

    @nn.compact
    def __call__(self, obs: jax.Array, act: jax.Array) -> jax.Array:
        ensemble = nn.vmap(
            MLP,
            variable_axes={"params": 0},
            split_rngs={"params": True},
            in_axes=None,
            out_axes=0,
            axis_size=self.num_qs,
        )
        x = jnp.concatenate([obs, act], axis=-1)
        return ensemble(self.hidden, 1)(x)[..., 0]


class ValueNet(nn.Module):
    """State-value function ``obs -> [...]``."""

    hidden: Sequence[int]
    activation: Callable = nn.tanh

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        return MLP(self.hidden, 1, activation=self.activation, out_scale=1.0)(obs)[..., 0]


class Discriminator(nn.Module):
    """Logit of P(expert | input): ``[..., in] -> [...]``. Work with the logit, never with ``sigmoid``."""

    hidden: Sequence[int]
    activation: Callable = nn.tanh

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return MLP(self.hidden, 1, activation=self.activation, out_scale=1.0)(x)[..., 0]


def _patches_3x3_stride2(x: jax.Array) -> jax.Array:
    """``[B, H, W, C] -> [B, ceil(H/2), ceil(W/2), 9 C]``: the 3x3 neighbourhoods (zero padding) of every second
    pixel, so that a stride-2 3x3 convolution is one matmul (faster than XLA's CPU convolution at these small
    sizes)."""
    H, W = x.shape[1], x.shape[2]
    x = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    return jnp.concatenate([x[:, i : i + H : 2, j : j + W : 2] for i in range(3) for j in range(3)], axis=-1)


class ConvEncoder(nn.Module):
    """Features of small images: ``[..., H, W, C] -> [..., features]``. Strided 3x3 convolutions (ReLU, each one
    matmul on stacked patches), then one dense layer with a tanh, so the features are bounded (the
    third-person feature extractor)."""

    channels: Sequence[int] = (16, 16)
    features: int = 32
    normalize: bool = False
    """Standardize each image channel (zero mean, unit variance over its pixels) before the convolutions."""

    @nn.compact
    def __call__(self, img: jax.Array) -> jax.Array:
        batch = img.shape[:-3]
        x = img.reshape((-1,) + img.shape[-3:])
        if self.normalize:
            x = (x - x.mean(axis=(1, 2), keepdims=True)) / (x.std(axis=(1, 2), keepdims=True) + 1e-3)
        for c in self.channels:
            x = nn.relu(nn.Dense(c, kernel_init=default_init())(_patches_3x3_stride2(x)))
        x = nn.tanh(nn.Dense(self.features, kernel_init=default_init(1.0))(x.reshape(x.shape[0], -1)))
        return x.reshape(batch + (self.features,))


class LSTMTokenModel(nn.Module):
    """One step of an autoregressive LSTM over tokens ``0 .. vocab-1`` (id ``vocab`` is the start symbol):
    ``(carry, tokens [...]) -> (carry, next-token logits [..., vocab])``. Scans over time live in the algorithms
    (``jirl/algorithms/seqgan.py``), so the same parameters serve teacher forcing, sampling and rollouts."""

    vocab: int
    emb: int = 32
    hidden: int = 32

    @nn.compact
    def __call__(self, carry: tuple[jax.Array, jax.Array], tokens: jax.Array):
        x = nn.Embed(self.vocab + 1, self.emb, name="embed")(tokens)
        carry, h = nn.LSTMCell(self.hidden, recurrent_kernel_init=orthogonal(), name="cell")(carry, x)
        return carry, nn.Dense(self.vocab, name="out")(h)


def lstm_zero_carry(hidden: int, batch_shape: tuple[int, ...]) -> tuple[jax.Array, jax.Array]:
    """The ``(c, h)`` carry of :class:`LSTMTokenModel` at the start of a sequence."""
    z = jnp.zeros((*batch_shape, hidden))
    return (z, z)


class SequenceCNN(nn.Module):
    """Logit of P(real | token sequence) ``[..., L] -> [...]``: embedding, 1-D convolutions of several widths with
    max-over-time pooling, one highway layer (SeqGAN's discriminator, after Kim 2014)."""

    vocab: int
    emb: int = 64
    filters: Sequence[tuple[int, int]] = ((2, 64), (3, 64), (4, 64), (5, 64))
    """(width, number of filters) per convolution."""
    dropout: float = 0.0
    """Dropout rate on the highway output when called with ``train=True`` (needs a "dropout" rng)."""

    OUTPUT = "Dense_2"  # the params entry of the output layer (auto-named, so that inits stay as they were)

    @nn.compact
    def __call__(self, tokens: jax.Array, train: bool = False) -> jax.Array:
        batch = tokens.shape[:-1]
        x = nn.Embed(self.vocab, self.emb)(tokens.reshape(-1, tokens.shape[-1]))  # [B, L, E]
        L = x.shape[1]
        # a VALID 1-D convolution of width w as one matmul on stacked windows (much faster than nn.Conv on a CPU)
        windows = lambda w: jnp.concatenate([x[:, i : L - w + 1 + i] for i in range(w)], axis=-1)  # [B, L-w+1, w*E]
        pooled = [nn.relu(nn.Dense(n, name=f"conv{w}")(windows(w))).max(axis=1) for w, n in self.filters]
        f = jnp.concatenate(pooled, axis=-1)
        gate = nn.sigmoid(nn.Dense(f.shape[-1])(f))
        f = gate * nn.relu(nn.Dense(f.shape[-1])(f)) + (1.0 - gate) * f
        f = nn.Dropout(self.dropout, deterministic=not train or self.dropout == 0.0)(f)
        return nn.Dense(1)(f)[..., 0].reshape(batch)  # "Dense_2" in the params (SequenceCNN.OUTPUT)


# ---------------------------------------------------------------------------------------------------------
# Tanh-squashed Gaussian helpers (pure functions).


def gaussian_log_prob(u: jax.Array, mean: jax.Array, log_std: jax.Array) -> jax.Array:
    """Diagonal Gaussian log-density summed over the last axis: ``[..., A] -> [...]``."""
    z = (u - mean) * jnp.exp(-log_std)
    return jnp.sum(-0.5 * z**2 - log_std - 0.5 * jnp.log(2.0 * jnp.pi), axis=-1)


def tanh_log_det_jacobian(u: jax.Array) -> jax.Array:
    """``sum log(1 - tanh(u)^2)`` over the last axis, in the stable form ``2 (log 2 - u - softplus(-2u))``."""
    return jnp.sum(2.0 * (_LOG2 - u - jax.nn.softplus(-2.0 * u)), axis=-1)


def tanh_gaussian_log_prob(action: jax.Array, mean: jax.Array, log_std: jax.Array, eps: float = 1e-4) -> jax.Array:
    """``log pi(a)`` of a given squashed action ``a = tanh(u)`` under the tanh-Gaussian ``(mean, log_std)``:
    ``[..., A] -> [...]``. Actions are clipped to ``[-1 + eps, 1 - eps]`` first (an action on the bound, as
    an expert's often is, would otherwise have ``u = +-inf``)."""
    u = jnp.arctanh(jnp.clip(action, -1.0 + eps, 1.0 - eps))
    return gaussian_log_prob(u, mean, log_std) - tanh_log_det_jacobian(u)


def sample_tanh_gaussian(key: chex.PRNGKey, mean: jax.Array, log_std: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Reparameterized sample ``a = tanh(mean + std * eps)`` and its log-density ``log pi(a)``.

    Shapes: ``mean, log_std: [..., A] -> (a [..., A], log_prob [...])``.
    """
    chex.assert_equal_shape([mean, log_std])
    u = mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape, mean.dtype)
    log_prob = gaussian_log_prob(u, mean, log_std) - tanh_log_det_jacobian(u)
    return jnp.tanh(u), log_prob
