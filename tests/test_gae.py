import jax.numpy as jnp
import numpy as np
import pytest

from jirl.algorithms.ppo import compute_gae


def _gae_loop(rewards, values, next_values, terminated, ends, gamma, lam):
    """Plain Python reference, one env at a time."""
    T, N = rewards.shape
    adv = np.zeros((T, N))
    for n in range(N):
        running = 0.0
        for t in reversed(range(T)):
            if ends[t, n]:
                running = 0.0
            bootstrap = 0.0 if terminated[t, n] else gamma * next_values[t, n]
            delta = rewards[t, n] + bootstrap - values[t, n]
            running = delta + gamma * lam * running
            adv[t, n] = running
    return adv, adv + values


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gae_matches_python_loop_with_terminations_and_truncations(seed):
    rng = np.random.default_rng(seed)
    T, N = 64, 5
    rewards = rng.normal(size=(T, N))
    values = rng.normal(size=(T, N))
    next_values = rng.normal(size=(T, N))
    terminated = rng.random((T, N)) < 0.05
    truncated = (rng.random((T, N)) < 0.05) & ~terminated
    ends = terminated | truncated
    assert terminated.any() and truncated.any()
    adv, ret = compute_gae(*(jnp.asarray(x, jnp.float32) for x in (rewards, values, next_values)),
                           jnp.asarray(terminated), jnp.asarray(ends), 0.99, 0.95)
    ref_adv, ref_ret = _gae_loop(rewards, values, next_values, terminated, ends, 0.99, 0.95)
    np.testing.assert_allclose(np.asarray(adv), ref_adv, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(ret), ref_ret, rtol=1e-4, atol=1e-4)


def test_gae_accepts_1d_and_handles_truncation_bootstrap():
    r = jnp.array([1.0, 1.0, 1.0])
    v = jnp.array([0.5, 0.5, 0.5])
    nv = jnp.array([0.5, 2.0, 0.5])  # step 1 is a truncation whose final observation is worth 2.0
    term = jnp.array([False, False, True])
    ends = jnp.array([False, True, True])
    adv, ret = compute_gae(r, v, nv, term, ends, gamma=0.9, gae_lambda=1.0)
    # t=2: terminal, no bootstrap: 1 - 0.5; t=1: truncated, bootstraps 0.9*2.0, recursion stops
    np.testing.assert_allclose(np.asarray(adv), [1 + 0.9 * 0.5 - 0.5 + 0.9 * (1 + 0.9 * 2.0 - 0.5), 1 + 0.9 * 2.0 - 0.5, 0.5], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(ret), np.asarray(adv) + 0.5, rtol=1e-6)
