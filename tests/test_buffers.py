import jax
import jax.numpy as jnp
import numpy as np

from jirl.buffers import Transition, buffer_add, buffer_from_numpy, buffer_init, buffer_sample, buffer_to_numpy


def _example():
    return Transition(obs=jnp.zeros(2), action=jnp.zeros(1), reward=jnp.zeros(()), next_obs=jnp.zeros(2), terminated=jnp.zeros(()))


def _batch(start, n):
    r = jnp.arange(start, start + n, dtype=jnp.float32)
    return Transition(obs=jnp.stack([r, r], 1), action=r[:, None], reward=r, next_obs=jnp.stack([r, r], 1) + 1, terminated=jnp.zeros(n))


def test_add_wraps_around_and_counts():
    buf = buffer_init(_example(), capacity=5)
    add = jax.jit(buffer_add)
    buf = add(buf, _batch(0, 3))
    assert int(buf.size) == 3 and int(buf.ptr) == 3
    buf = add(buf, _batch(3, 4))  # writes 3, 4, then wraps to 0, 1
    assert int(buf.size) == 5 and int(buf.ptr) == 2
    np.testing.assert_array_equal(np.asarray(buf.data.reward), [5, 6, 2, 3, 4])
    # insertion order export starts at the oldest element
    np.testing.assert_array_equal(buffer_to_numpy(buf)["reward"], [2, 3, 4, 5, 6])


def test_sample_only_filled_slots():
    buf = buffer_init(_example(), capacity=100)
    buf = buffer_add(buf, _batch(10, 7))
    batch = jax.jit(buffer_sample, static_argnums=2)(buf, jax.random.PRNGKey(0), 1000)
    values = set(np.asarray(batch.reward).tolist())
    assert values == set(range(10, 17))  # every filled slot drawn, nothing else
    np.testing.assert_array_equal(np.asarray(batch.next_obs[:, 0]), np.asarray(batch.obs[:, 0]) + 1)  # rows stay aligned


def test_numpy_round_trip_preserves_order():
    buf = buffer_add(buffer_init(_example(), 4), _batch(0, 6))
    arrays = buffer_to_numpy(buf)
    restored = buffer_from_numpy(_example(), 4, arrays)
    np.testing.assert_array_equal(buffer_to_numpy(restored)["reward"], [2, 3, 4, 5])
    assert int(restored.size) == 4


def test_one_million_transitions_fit():
    example = Transition(obs=jnp.zeros(17), action=jnp.zeros(6), reward=jnp.zeros(()), next_obs=jnp.zeros(17), terminated=jnp.zeros(()))
    buf = buffer_init(example, 1_000_000)
    assert buf.capacity == 1_000_000
    nbytes = sum(x.nbytes for x in jax.tree_util.tree_leaves(buf.data))
    assert nbytes < 200e6
