"""Replay storage as a pytree with pure, jit-able ``add`` and ``sample``.

A :class:`ReplayBuffer` holds fixed-capacity arrays ``[C, ...]`` for every field of a transition, a write
pointer and a fill count. ``add`` writes a batch ``[N, ...]`` of transitions at the pointer (wrapping around);
``sample`` draws ``B`` indices uniformly among the filled slots. Both are pure: they return new buffers.
With ``C = 1_000_000`` and HalfCheetah's 17-d observations the whole buffer is ~170 MB of float32.
"""

from __future__ import annotations

from typing import Any

import chex
import jax
import jax.numpy as jnp
import numpy as np


@chex.dataclass(frozen=True)
class Transition:
    """One (batch of) transition(s). Shapes ``[..., obs_dim]`` / ``[..., act_dim]`` / ``[...]``.

    ``next_obs`` is the true next observation (the final observation when the episode was truncated);
    ``terminated`` (1.0 / 0.0) is set only for true terminal states, which cut the bootstrap.
    """

    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    next_obs: jax.Array
    terminated: jax.Array


@chex.dataclass(frozen=True)
class ReplayBuffer:
    data: Any  # a pytree (e.g. Transition) of [C, ...] arrays
    ptr: jax.Array  # int32 scalar: next slot to write
    size: jax.Array  # int32 scalar: number of filled slots

    @property
    def capacity(self) -> int:
        return jax.tree_util.tree_leaves(self.data)[0].shape[0]


def buffer_init(example: Any, capacity: int) -> ReplayBuffer:
    """Empty buffer whose fields have the shapes/dtypes of ``example`` (one transition, no batch dim)."""
    data = jax.tree_util.tree_map(lambda x: jnp.zeros((capacity,) + jnp.shape(x), jnp.asarray(x).dtype), example)
    return ReplayBuffer(data=data, ptr=jnp.int32(0), size=jnp.int32(0))


def buffer_add(buffer: ReplayBuffer, batch: Any) -> ReplayBuffer:
    """Write ``N`` transitions (leaves ``[N, ...]``) at the pointer, wrapping around. ``N <= capacity``."""
    capacity = buffer.capacity
    n = jax.tree_util.tree_leaves(batch)[0].shape[0]
    chex.assert_tree_shape_prefix(batch, (n,))
    idx = (buffer.ptr + jnp.arange(n)) % capacity
    data = jax.tree_util.tree_map(lambda d, x: d.at[idx].set(x.astype(d.dtype)), buffer.data, batch)
    return buffer.replace(
        data=data,
        ptr=((buffer.ptr + n) % capacity).astype(jnp.int32),
        size=jnp.minimum(buffer.size + n, capacity).astype(jnp.int32),
    )


def buffer_sample(buffer: ReplayBuffer, key: chex.PRNGKey, batch_size: int) -> Any:
    """Uniform sample (with replacement) of ``batch_size`` filled transitions: leaves ``[B, ...]``."""
    idx = jax.random.randint(key, (batch_size,), 0, jnp.maximum(buffer.size, 1))
    # indices are in range by construction; mode="clip" skips the out-of-bounds masking of the default gather
    return jax.tree_util.tree_map(lambda d: jnp.take(d, idx, axis=0, mode="clip"), buffer.data)


def buffer_to_numpy(buffer: ReplayBuffer) -> dict[str, np.ndarray]:
    """Filled part of the buffer in insertion order, as a flat dict of NumPy arrays (for checkpoints)."""
    size, ptr, cap = int(buffer.size), int(buffer.ptr), buffer.capacity
    order = np.arange(size) if size < cap else (np.arange(cap) + ptr) % cap
    out = {}
    for name, leaf in buffer.data.items():
        out[name] = np.asarray(leaf)[order]
    return out


def buffer_from_numpy(example: Any, capacity: int, arrays: dict[str, np.ndarray]) -> ReplayBuffer:
    """Inverse of :func:`buffer_to_numpy`."""
    buf = buffer_init(example, capacity)
    n = len(next(iter(arrays.values())))
    if n == 0:
        return buf
    data = {k: v.at[:n].set(jnp.asarray(arrays[k])) for k, v in buf.data.items()}
    return buf.replace(data=type(buf.data)(**data), ptr=jnp.int32(n % capacity), size=jnp.int32(n))
