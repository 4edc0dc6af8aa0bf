import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jirl.algorithms import gail


def test_rewards_match_their_formulas():
    logit = jnp.array([-30.0, -2.0, 0.0, 1.5, 30.0])
    d = 1.0 / (1.0 + np.exp(-np.asarray(logit, np.float64)))
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(np.asarray(gail.reward_from_logits(logit, "gail"))[1:4], -np.log(1 - d)[1:4], rtol=1e-5)
        np.testing.assert_allclose(np.asarray(gail.reward_from_logits(logit, "logd"))[1:4], np.log(d)[1:4], rtol=1e-5)
    np.testing.assert_allclose(np.asarray(gail.reward_from_logits(logit, "airl")), np.asarray(logit))
    # finite where the naive log(sigmoid) forms blow up
    for kind in ("gail", "logd", "airl"):
        r = np.asarray(gail.reward_from_logits(logit, kind))
        assert np.all(np.isfinite(r))
        assert np.all(np.diff(r) > 0)  # more expert-like -> more reward, for every kind
    assert float(gail.reward_from_logits(jnp.array(-30.0), "gail")) >= 0.0  # -log(1-D) is never negative


def test_loss_is_bce_with_expert_label_one():
    cfg = gail.DiscriminatorConfig(hidden=(8,), grad_penalty=0.0)
    state = gail.init(cfg, jax.random.PRNGKey(0), 3)
    e = jax.random.normal(jax.random.PRNGKey(1), (4, 3))
    p = jax.random.normal(jax.random.PRNGKey(2), (4, 3))
    total, m = gail.loss(cfg, state.params, e, p, jax.random.PRNGKey(3))
    le, lp = gail.logits(cfg, state.params, e), gail.logits(cfg, state.params, p)
    ref = np.mean(np.log1p(np.exp(-np.asarray(le)))) + np.mean(np.log1p(np.exp(np.asarray(lp))))
    np.testing.assert_allclose(float(total), ref, rtol=1e-5)
    np.testing.assert_allclose(float(m["disc_loss"]), float(optax.sigmoid_binary_cross_entropy(le, 1.0).mean() + optax.sigmoid_binary_cross_entropy(lp, 0.0).mean()), rtol=1e-6)
    # the default gradient penalty (10) adds 10 x the logged penalty on top of the same cross-entropy
    gp_cfg = gail.DiscriminatorConfig(hidden=(8,))
    assert gp_cfg.grad_penalty == 10.0
    gp_total, gp_m = gail.loss(gp_cfg, state.params, e, p, jax.random.PRNGKey(3))
    np.testing.assert_allclose(float(gp_total), ref + 10.0 * float(gp_m["disc_grad_penalty"]), rtol=1e-5)
    assert float(gp_m["disc_grad_penalty"]) > 0.0


def _expert_and_random(rng, w, n):
    states = rng.normal(size=(n, 4))
    expert = np.concatenate([states, np.tanh(states @ w)], 1)  # actions follow a fixed controller
    policy = np.concatenate([rng.normal(size=(n, 4)), rng.uniform(-1, 1, (n, 2))], 1)  # random actions
    return jnp.asarray(expert, jnp.float32), jnp.asarray(policy, jnp.float32)


def test_discriminator_separates_expert_from_random_and_rewards_expert_more():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(4, 2))
    expert_x, policy_x = _expert_and_random(rng, w, 2048)
    cfg = gail.DiscriminatorConfig(hidden=(32, 32), learning_rate=3e-3, batch_size=128, grad_penalty=1.0)
    state = gail.init(cfg, jax.random.PRNGKey(0), 6)
    train = jax.jit(functools.partial(gail.train_steps, cfg, num_steps=300))
    state, metrics = train(state, expert_x, policy_x, jax.random.PRNGKey(1))
    test_expert, test_policy = _expert_and_random(rng, w, 512)  # held out
    le = gail.logits(cfg, state.params, test_expert)
    lp = gail.logits(cfg, state.params, test_policy)
    acc = 0.5 * (float(jnp.mean(le > 0)) + float(jnp.mean(lp < 0)))
    assert acc > 0.85, acc
    assert float(jnp.mean(gail.reward_from_logits(le))) > float(jnp.mean(gail.reward_from_logits(lp))) + 0.5
    assert float(metrics["disc_grad_penalty"]) >= 0.0


def test_input_noise_blurs_the_discriminator():
    """Instance noise: two tight clusters (means +-0.1 in each of 3 dims) are separated confidently without
    noise; blurred with std 1, the Bayes-optimal logit gap between the cluster centres is only 0.12, and D's
    gap must stay of that order."""
    rng = np.random.default_rng(0)
    expert_x = jnp.asarray(0.1 + 0.01 * rng.normal(size=(512, 3)), jnp.float32)
    policy_x = jnp.asarray(-0.1 + 0.01 * rng.normal(size=(512, 3)), jnp.float32)
    gaps = {}
    for noise in (0.0, 1.0):
        cfg = gail.DiscriminatorConfig(hidden=(32, 32), learning_rate=3e-3, batch_size=128, grad_penalty=0.0, input_noise=noise)
        state = gail.init(cfg, jax.random.PRNGKey(0), 3)
        state, _ = jax.jit(functools.partial(gail.train_steps, cfg, num_steps=300))(state, expert_x, policy_x, jax.random.PRNGKey(1))
        gaps[noise] = float(jnp.mean(gail.logits(cfg, state.params, expert_x)) - jnp.mean(gail.logits(cfg, state.params, policy_x)))
    assert gaps[0.0] > 5.0, gaps  # confident without noise
    assert 0.0 < gaps[1.0] < 0.5, gaps  # measured 0.16 (14.4 without noise)
