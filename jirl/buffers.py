"""Replay storage as a pytree with pure, jit-able ``add`` and ``sample``.

A :class:`ReplayBuffer` holds fixed-capacity arrays ``[C, ...]`` for every field of a transition, a write
pointer and a fill count. ``add`` writes a batch ``[N, ...]`` of transitions at the pointer (wrapping around);
``sample`` draws ``B`` indices uniformly among the filled slots. Both are pure: they return new buffers.
With ``C = 1_000_000`` and HalfCheetah's 17-d observations the whole buffer is ~170 MB of float32.

Reading and writing one buffer inside one compiled program: XLA copies the whole buffer whenever a read of
the old contents may still be pending when the in-place write happens. :func:`with_pending` gives a *view*
of the buffer with ``N`` transitions that are not written yet; :func:`buffer_sample` of that view draws
exactly what it would draw after ``buffer_add`` of them (same indices, the new rows taken from the pending
batch), so a program can sample first and write afterwards (see :func:`jirl.loops.sac.train`).
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
    pending: Any = None  # None, or a batch [N, ...] that sample() treats as already added (see with_pending)

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


def with_pending(buffer: ReplayBuffer, batch: Any) -> ReplayBuffer:
    """A read-only view of ``buffer_add(buffer, batch)`` for :func:`buffer_sample`, without writing ``batch``.

    Sampling the view gives the same result as sampling the added buffer with the same key; write the batch
    afterwards with ``buffer_add(buffer, batch)`` (on the buffer, not the view)."""
    n = jax.tree_util.tree_leaves(batch)[0].shape[0]
    chex.assert_tree_shape_prefix(batch, (n,))
    if n > buffer.capacity:
        raise ValueError(f"a pending batch of {n} transitions does not fit a buffer of capacity {buffer.capacity}")
    return buffer.replace(pending=batch)


def buffer_sample(buffer: ReplayBuffer, key: chex.PRNGKey, batch_size: int) -> Any:
    """Uniform sample (with replacement) of ``batch_size`` filled transitions: leaves ``[B, ...]``.

    On a view made by :func:`with_pending`, samples the buffer as if the pending batch had been added."""
    if buffer.pending is None:
        idx = jax.random.randint(key, (batch_size,), 0, jnp.maximum(buffer.size, 1))
        # indices are in range by construction; mode="clip" skips the out-of-bounds masking of the default gather
        return jax.tree_util.tree_map(lambda d: jnp.take(d, idx, axis=0, mode="clip"), buffer.data)
    cap = buffer.capacity
    n = jax.tree_util.tree_leaves(buffer.pending)[0].shape[0]
    size_after = jnp.minimum(buffer.size + n, cap)
    idx = jax.random.randint(key, (batch_size,), 0, jnp.maximum(size_after, 1))
    offset = (idx - buffer.ptr) % cap  # slots ptr, ..., ptr+n-1 (mod cap) would hold the pending rows
    is_new = offset < n

    def pick(stored, new):
        old = jnp.take(stored, idx, axis=0, mode="clip")
        fresh = jnp.take(new.astype(stored.dtype), jnp.minimum(offset, n - 1), axis=0, mode="clip")
        return jnp.where(is_new.reshape((-1,) + (1,) * (old.ndim - 1)), fresh, old)

    return jax.tree_util.tree_map(pick, buffer.data, buffer.pending)


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
