import re
import subprocess
import sys

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


def test_orthogonal_init_equals_flax_without_lapack():
    """jirl.nets.orthogonal gives flax's orthogonal matrices (same draw, same sign convention) to float rounding,
    and its jaxpr has no LAPACK custom call (the QR that deadlocks when jitted and vmapped, see below)."""
    import flax.linen as nn

    from jirl.nets import orthogonal

    for shape in [(17, 256), (256, 256), (256, 6), (3, 3, 4, 8), (6, 40)]:
        key = jax.random.PRNGKey(3)
        ours = np.asarray(orthogonal(1.4)(key, shape))
        np.testing.assert_allclose(ours, np.asarray(nn.initializers.orthogonal(1.4)(key, shape)), atol=5e-6)
        m = ours.reshape(-1, shape[-1])
        gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
        np.testing.assert_allclose(gram, 1.96 * np.eye(gram.shape[0]), atol=1e-5)
    jaxpr = str(jax.make_jaxpr(lambda k: orthogonal()(k, (64, 64)))(jax.random.PRNGKey(0)))
    assert not re.search(r"\bqr\b|geqrf|householder", jaxpr), jaxpr
    assert re.search(r"\bqr\b", str(jax.make_jaxpr(lambda k: nn.initializers.orthogonal()(k, (64, 64)))(jax.random.PRNGKey(0))))  # the check can fail


def test_jitted_vmapped_init_of_several_seeds_does_not_hang():
    """With flax's LAPACK-based orthogonal init, jit(vmap(init)) of a 256x256 actor over 3 seeds deadlocked
    in 3 of 3 tries of 300 calls on the 2-core CPU (`python experiments/init_hang_check.py --init flax`; jaxlib 0.10.2;
    DAgger re-initializes its K seeds this way every round). Run in a subprocess, so that a hang fails the test instead of stopping the suite."""
    code = (
        "import jax, jax.numpy as jnp\n"
        "from jirl.nets import TanhGaussianActor\n"
        "actor = TanhGaussianActor((256, 256), 6)\n"
        "init = jax.jit(jax.vmap(lambda k: actor.init(k, jnp.zeros((1, 17)))))\n"
        "for i in range(300):\n"
        "    jax.block_until_ready(init(jax.vmap(jax.random.PRNGKey)(jnp.arange(3) + i)))\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_mlp_numpy_equals_the_flax_mlp_with_and_without_a_seed_axis():
    """The host-side copy of MLP (used for acting through the bridge) computes what MLP.apply computes, for one
    parameter set and for K stacked ones, and refuses a parameter dict that is not an MLP's."""
    import numpy as np
    import pytest

    from jirl.nets import MLP, mlp_numpy

    net = MLP((16, 8), 3, activation=jax.nn.tanh)
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 5, 4)) * 3.0
    params = [net.init(jax.random.PRNGKey(s), x[0])["params"] for s in range(2)]
    to_np = lambda p: jax.tree_util.tree_map(np.asarray, p)
    for k in range(2):
        np.testing.assert_allclose(mlp_numpy(to_np(params[k]), np.asarray(x[k])), net.apply({"params": params[k]}, x[k]), rtol=1e-5, atol=1e-5)
    stacked = to_np(jax.tree_util.tree_map(lambda *a: jnp.stack(a), *params))
    want = jnp.stack([net.apply({"params": params[k]}, x[k]) for k in range(2)])
    np.testing.assert_allclose(mlp_numpy(stacked, np.asarray(x)), want, rtol=1e-5, atol=1e-5)
    relu = MLP((16,), 3)  # default activation relu: passing it gives the same result
    p = relu.init(jax.random.PRNGKey(3), x[0])["params"]
    np.testing.assert_allclose(mlp_numpy(to_np(p), np.asarray(x[0]), lambda v: np.maximum(v, 0)), relu.apply({"params": p}, x[0]), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="Dense_0"):
        mlp_numpy({"Dense_1": p["Dense_1"]}, np.asarray(x[0]))
