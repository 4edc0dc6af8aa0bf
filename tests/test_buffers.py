import jax
import jax.numpy as jnp
import numpy as np

from jirl.buffers import Transition, buffer_add, buffer_from_numpy, buffer_init, buffer_sample, buffer_to_numpy, with_pending


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


def test_sampling_a_pending_view_equals_sampling_after_the_add():
    """with_pending: same key, same draws as after buffer_add, for an empty, a partly filled and a wrapping buffer."""
    sample = jax.jit(buffer_sample, static_argnums=2)
    for capacity, before, n in [(8, 0, 3), (8, 2, 3), (8, 6, 3), (8, 8, 3), (5, 4, 5)]:
        buf = buffer_add(buffer_init(_example(), capacity), _batch(100, before)) if before else buffer_init(_example(), capacity)
        new = _batch(200, n)
        for seed in range(3):
            key = jax.random.PRNGKey(seed)
            expected = sample(buffer_add(buf, new), key, 64)
            got = sample(with_pending(buf, new), key, 64)
            for e, g in zip(jax.tree_util.tree_leaves(expected), jax.tree_util.tree_leaves(got), strict=True):
                np.testing.assert_array_equal(np.asarray(g), np.asarray(e))
        drawn = set(np.asarray(sample(with_pending(buf, new), jax.random.PRNGKey(9), 2000).reward).tolist())
        assert set(range(200, 200 + n)) <= drawn  # every pending row can be drawn
    with np.testing.assert_raises(ValueError):
        with_pending(buffer_init(_example(), 2), _batch(0, 3))
