import chex
import jax
import jax.numpy as jnp
import numpy as np

from jirl.nets import QEnsemble, TanhGaussianActor, gaussian_log_prob, sample_tanh_gaussian, tanh_log_det_jacobian


def test_tanh_gaussian_log_prob_matches_numerical_change_of_variables():
    key = jax.random.PRNGKey(0)
    mean = jnp.array([[0.3, -1.2, 2.0], [0.0, 0.5, -0.7]])
    log_std = jnp.array([[-0.5, 0.2, -1.0], [0.1, -2.0, 0.4]])
    a, logp = sample_tanh_gaussian(key, mean, log_std)
    # Reference in float64: invert the squash, Gaussian density of u, minus log|da/du| by finite differences.
    a64 = np.asarray(a, np.float64)
    u = np.arctanh(np.clip(a64, -1 + 1e-12, 1 - 1e-12))
    m, s = np.asarray(mean, np.float64), np.exp(np.asarray(log_std, np.float64))
    log_gauss = np.sum(-0.5 * ((u - m) / s) ** 2 - np.log(s) - 0.5 * np.log(2 * np.pi), axis=-1)
    h = 1e-6
    jac = (np.tanh(u + h) - np.tanh(u - h)) / (2 * h)
    ref = log_gauss - np.sum(np.log(jac), axis=-1)
    np.testing.assert_allclose(np.asarray(logp), ref, rtol=1e-3, atol=1e-3)
    chex.assert_shape(a, (2, 3))
    chex.assert_shape(logp, (2,))


def test_tanh_log_det_is_stable_for_large_pre_squash_values():
    u = jnp.array([[0.0, 1.0, -3.0, 30.0, -60.0]])
    stable = tanh_log_det_jacobian(u)
    with np.errstate(divide="ignore"):
        naive = np.log(1 - np.tanh(np.asarray(u, np.float64)) ** 2)
    assert np.isinf(naive[0, 3])
    assert np.isfinite(float(stable[0]))
    # the naive form underflows to -inf at |u| = 30; the stable one is exact: log(1 - tanh^2) ~ 2 log 2 - 2|u|
    np.testing.assert_allclose(float(stable[0]), np.sum(naive[:, :3]) + 2 * (np.log(2) - 30) + 2 * (np.log(2) - 60), rtol=1e-5)


def test_gaussian_log_prob_standard_normal():
    x = jnp.zeros((1, 4))
    np.testing.assert_allclose(float(gaussian_log_prob(x, x, x)[0]), -2 * np.log(2 * np.pi), rtol=1e-6)


def test_actor_log_std_bounds_and_shapes():
    actor = TanhGaussianActor((16, 16), 3)
    params = actor.init(jax.random.PRNGKey(0), jnp.zeros((1, 5)))
    mean, log_std = actor.apply(params, 100.0 * jax.random.normal(jax.random.PRNGKey(1), (7, 5)))
    chex.assert_shape([mean, log_std], (7, 3))
    assert float(log_std.min()) >= -5.0 and float(log_std.max()) <= 2.0


def test_q_ensemble_members_are_independent():
    critic = QEnsemble((16, 16), num_qs=2)
    params = critic.init(jax.random.PRNGKey(0), jnp.zeros((1, 3)), jnp.zeros((1, 2)))
    q = critic.apply(params, jnp.ones((4, 3)), jnp.ones((4, 2)))
    chex.assert_shape(q, (2, 4))
    assert not np.allclose(q[0], q[1])  # different initializations
    kernel = params["params"]["VmapMLP_0"]["Dense_0"]["kernel"]
    chex.assert_shape(kernel, (2, 5, 16))
