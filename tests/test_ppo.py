import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jirl.algorithms import ppo
from jirl.envs.normalize import norm_apply
from jirl.nets import gaussian_log_prob


def test_clipped_surrogate_hand_values():
    ratio = jnp.array([0.5, 0.9, 1.1, 1.5, 0.5, 1.5])
    adv = jnp.array([1.0, 1.0, 1.0, 1.0, -1.0, -1.0])
    got = np.asarray(ppo.clipped_surrogate(ratio, adv, 0.2))
    # A>0: min(r, clip(r)) -> 0.5, 0.9, 1.1, 1.2 ; A<0: min(-r, -clip(r)) -> -0.8, -1.5
    np.testing.assert_allclose(got, -np.array([0.5, 0.9, 1.1, 1.2, -0.8, -1.5]), rtol=1e-6)


def test_value_loss_clipping():
    v, old, ret = jnp.array(2.0), jnp.array(1.0), jnp.array(3.0)
    assert float(ppo.value_loss(v, old, ret, 0.2, clip=False)) == 0.5
    # clipped value is 1.2 -> (1.2-3)^2 = 3.24 > 1: the pessimistic max is taken
    np.testing.assert_allclose(float(ppo.value_loss(v, old, ret, 0.2, clip=True)), 0.5 * 3.24, rtol=1e-6)


def test_gaussian_entropy_hand_value():
    log_std = jnp.array([0.0, np.log(2.0)])
    expected = 0.5 * np.log(2 * np.pi * np.e) * 2 + np.log(2.0)
    np.testing.assert_allclose(float(ppo.gaussian_entropy(log_std)), expected, rtol=1e-6)


def test_ratio_is_one_on_the_collecting_policy_and_uses_learned_std():
    cfg = ppo.PPOConfig(hidden=(8, 8), init_log_std=-0.7)
    state = ppo.init(cfg, jax.random.PRNGKey(0), 3, 2, total_updates=10)
    obs = jax.random.normal(jax.random.PRNGKey(1), (5, 3))
    action, log_prob, value = ppo.sample_action(cfg, state.params, obs, jax.random.PRNGKey(2))
    mean, log_std, _ = ppo.policy_outputs(cfg, state.params, obs)
    np.testing.assert_allclose(np.asarray(log_std), -0.7)
    np.testing.assert_allclose(np.asarray(log_prob), np.asarray(gaussian_log_prob(action, mean, log_std)), rtol=1e-6)
    terms = jax.vmap(ppo.loss_one, in_axes=(None, None, 0, 0, 0, 0, 0, 0))(
        cfg, state.params, obs, action, log_prob, value, jnp.ones(5), value
    )
    np.testing.assert_allclose(np.asarray(terms["approx_kl"]), 0.0, atol=1e-6)
    np.testing.assert_allclose(np.asarray(terms["policy_loss"]), -1.0, rtol=1e-6)  # ratio 1, advantage 1
    np.testing.assert_allclose(np.asarray(terms["entropy"]), float(ppo.gaussian_entropy(jnp.full(2, -0.7))), rtol=1e-6)


def test_update_increases_likelihood_of_positive_advantage_actions():
    cfg = ppo.PPOConfig(hidden=(16, 16), epochs=4, minibatch_size=32, anneal_lr=False, learning_rate=1e-2)
    state = ppo.init(cfg, jax.random.PRNGKey(0), 3, 1, total_updates=100)
    obs = jax.random.normal(jax.random.PRNGKey(1), (128, 3))
    action, log_prob, value = ppo.sample_action(cfg, state.params, obs, jax.random.PRNGKey(2))
    adv = jnp.sign(action[:, 0])  # reward positive actions
    batch = ppo.PPOBatch(obs=obs, action=action, log_prob=log_prob, value=value, advantage=adv, ret=value + adv)
    new_state, metrics = jax.jit(ppo.update, static_argnums=(0, 4))(cfg, state, batch, jax.random.PRNGKey(3), 100)
    mean_before, _, _ = ppo.policy_outputs(cfg, state.params, obs)
    mean_after, _, _ = ppo.policy_outputs(cfg, new_state.params, obs)
    assert float(jnp.mean(mean_after)) > float(jnp.mean(mean_before)) + 0.05
    assert int(new_state.step) == 4 * 4
    assert 0.0 <= float(metrics["clip_frac"]) <= 1.0


def test_policy_weight_zero_freezes_actor_and_aux_loss_pulls_the_mean():
    cfg = ppo.PPOConfig(hidden=(16, 16), epochs=4, minibatch_size=32, anneal_lr=False, learning_rate=1e-2)
    state = ppo.init(cfg, jax.random.PRNGKey(0), 3, 1, total_updates=100)
    obs = jax.random.normal(jax.random.PRNGKey(1), (128, 3))
    action, log_prob, value = ppo.sample_action(cfg, state.params, obs, jax.random.PRNGKey(2))
    batch = ppo.PPOBatch(obs=obs, action=action, log_prob=log_prob, value=value, advantage=jnp.sign(action[:, 0]), ret=value + 1.0)
    update = jax.jit(ppo.update, static_argnums=(0, 4, 6))
    # critic-only round: the actor's parameters are bit-for-bit unchanged, the critic moves
    frozen, _ = update(cfg, state, batch, jax.random.PRNGKey(3), 100, 0.0, None)
    chex.assert_trees_all_equal(frozen.params["actor"], state.params["actor"])
    assert not np.allclose(frozen.params["critic"]["params"]["MLP_0"]["Dense_0"]["kernel"], state.params["critic"]["params"]["MLP_0"]["Dense_0"]["kernel"])
    # an auxiliary loss pulling the mean to 0.7 dominates a zero-advantage batch
    def to_target(params, key):
        x = jax.random.normal(key, (32, 3))
        return 10.0 * jnp.mean((ppo.policy_outputs(cfg, params, x)[0] - 0.7) ** 2)

    flat = batch.replace(advantage=jnp.zeros(128))
    pulled, metrics = update(cfg, state, flat, jax.random.PRNGKey(3), 100, 1.0, to_target)
    mean_after, _, _ = ppo.policy_outputs(cfg, pulled.params, obs)
    assert abs(float(jnp.mean(mean_after)) - 0.7) < 0.2, float(jnp.mean(mean_after))
    assert "aux_loss" in metrics


@pytest.mark.parametrize("K", [1, 2])
def test_policy_stepper_acts_with_each_seeds_noise_and_needs_a_load_per_rollout(K):
    """The bridge's acting (jirl.loops.ppo.PolicyStepper, 1 seed (its own 2-D path) or 2 vmapped seeds, x 3 envs,
    non-trivial observation statistics): step t's action of seed k is mean(norm(obs)) + std * noise[t] with the
    noise drawn from seed k's key, on the host (NumPy) path and on the JAX path alike; a rollout of T steps
    needs a fresh load()."""

    from jirl.envs.normalize import norm_init, norm_update
    from jirl.loops.common import stack_trees, tree_index
    from jirl.loops.ppo import PolicyStepper

    cfg = ppo.PPOConfig(hidden=(16, 16), num_steps=4, init_log_std=-0.5)
    N, D, A = 3, 5, 2
    rng = np.random.default_rng(0)
    params = stack_trees([ppo.init(cfg, jax.random.PRNGKey(s), D, A, 1).params for s in range(K)])
    norm = stack_trees([norm_update(norm_init(D), jnp.asarray(rng.normal(3.0 * s, 2.0 + s, size=(50, D)), jnp.float32)) for s in range(K)])
    keys = jnp.stack([jax.random.PRNGKey(10 + s) for s in range(K)])
    obs = rng.normal(size=(cfg.num_steps, K * N, D)).astype(np.float32) * 4.0
    for host in (True, False):
        stepper = PolicyStepper(cfg, params, norm, N, host=host)
        with pytest.raises(RuntimeError, match="load"):
            stepper(np.zeros((K * N, D), np.float32))
        stepper.load(params, norm, keys)
        for t in range(cfg.num_steps):
            action = stepper(obs[t])
            assert action.shape == (K * N, A)
            for k in range(K):
                rows = slice(k * N, (k + 1) * N)
                noise = jax.random.normal(keys[k], (cfg.num_steps, N, A))[t]
                obs_n = norm_apply(tree_index(norm, k), jnp.asarray(obs[t, rows]))
                mean, log_std, _ = ppo.policy_outputs(cfg, tree_index(params, k), obs_n)
                np.testing.assert_allclose(action[rows], mean + jnp.exp(log_std) * noise, rtol=1e-5, atol=1e-5)
        with pytest.raises(RuntimeError, match="load"):
            stepper(obs[0])


def test_rollout_update_computes_log_probs_and_values_the_collector_left_out():
    """The bridge's rollouts carry no log-probs or values (acting is on the host); the per-round update computes
    them from the observations and actions: the result equals the update given the acting-time values."""
    from jirl.envs.normalize import norm_init, norm_update, reward_scaler_init
    from jirl.loops.ppo import Rollout, make_rollout_update

    cfg = ppo.PPOConfig(hidden=(16, 16), num_steps=8, minibatch_size=8, epochs=2)
    T, N, D, A = 8, 2, 4, 2
    rng = np.random.default_rng(1)
    state = ppo.init(cfg, jax.random.PRNGKey(0), D, A, 10)
    norm = norm_update(norm_init(D), jnp.asarray(rng.normal(1.0, 2.0, size=(30, D)), jnp.float32))
    obs = jnp.asarray(rng.normal(size=(T, N, D)), jnp.float32)
    action, log_prob, value = ppo.sample_action(cfg, state.params, norm_apply(norm, obs), jax.random.PRNGKey(2))
    base = dict(
        obs=obs, action=action, reward=jnp.asarray(rng.normal(size=(T, N)), jnp.float32), terminated=jnp.zeros((T, N), bool),
        episode_end=jnp.zeros((T, N), bool).at[3, 0].set(True), final_obs=obs,
    )
    update = jax.jit(make_rollout_update(cfg, 10, True, False))
    args = (norm, reward_scaler_init(N))
    out_left = update(state, None, *args, Rollout(**base), jax.random.PRNGKey(3), 1.0, 0.0)
    out_given = update(state, None, *args, Rollout(**base, log_prob=log_prob, value=value), jax.random.PRNGKey(3), 1.0, 0.0)
    moved = jax.tree_util.tree_map(lambda a, b: float(jnp.max(jnp.abs(a - b))), out_left[0].params, state.params)
    assert max(jax.tree_util.tree_leaves(moved)) > 1e-4  # the update did something
    chex.assert_trees_all_close(out_left[0].params, out_given[0].params, atol=1e-5)
    chex.assert_trees_all_close(out_left[4], out_given[4], atol=1e-5)


def test_policy_stepper_rollout_equals_acting_step_by_step():
    """collect() with a host PolicyStepper runs one VecEnv.rollout per round (2 seeds x 3 envs, observation
    statistics): bit-identical to collect() acting step by step through the same stepper, next observations and
    finished episodes included; it refuses observations that are not the env's own, and a second rollout
    without load()."""
    from jirl.envs import VecEnv
    from jirl.envs.normalize import norm_init, norm_update
    from jirl.loops.common import stack_trees
    from jirl.loops.ppo import PolicyStepper, collect

    K, N, T = 2, 3, 9
    cfg = ppo.PPOConfig(hidden=(16, 16), num_steps=T, init_log_std=0.3)
    rng = np.random.default_rng(0)
    params = stack_trees([ppo.init(cfg, jax.random.PRNGKey(s), 3, 1, 1).params for s in range(K)])
    norm = stack_trees([norm_update(norm_init(3), jnp.asarray(rng.normal(0.5 * s, 1.0 + s, size=(40, 3)), jnp.float32)) for s in range(K)])
    keys = jnp.stack([jax.random.PRNGKey(7 + s) for s in range(K)])
    results = []
    for stepwise in (False, True):
        with VecEnv("Pendulum-v1", num_envs=K * N, seed=2, max_episode_steps=5) as env:
            obs = env.reset()
            stepper = PolicyStepper(cfg, params, norm, N)
            stepper.load(params, norm, keys)
            act = stepper.__call__ if stepwise else stepper  # a bound method is not a PolicyStepper: acting step by step
            results.append(collect(env, obs, T, act))
            if not stepwise:
                with pytest.raises(RuntimeError, match="load"):
                    collect(env, results[-1][1], T, stepper)
                stepper.load(params, norm, keys)
                with pytest.raises(ValueError, match="current observations"):
                    collect(env, results[-1][1] + 1.0, T, stepper)
    (a, obs_a, fin_a), (b, obs_b, fin_b) = results
    for name in ("obs", "action", "reward", "terminated", "episode_end", "final_obs"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    np.testing.assert_array_equal(obs_a, obs_b)
    assert fin_a == fin_b and len(fin_a) == K * N  # every env ended an episode at step 5
    assert np.abs(a.action).max() > 1.0  # unclipped actions are stored; the env got clipped ones


def test_shuffle_indices_is_a_uniform_permutation():
    """ppo.shuffle_indices (one sort of random 32-bit keys): every output is a permutation of 0..n-1, and over
    4,000 keys each index lands in each position about equally often (n = 4: expected 1,000 per cell)."""
    n, trials = 4, 4000
    perms = np.asarray(jax.vmap(lambda k: ppo.shuffle_indices(k, n))(jax.random.split(jax.random.PRNGKey(0), trials)))
    assert perms.dtype == np.int32 and perms.shape == (trials, n)
    assert (np.sort(perms, axis=1) == np.arange(n)).all()
    counts = np.stack([(perms == i).sum(axis=0) for i in range(n)])  # [index, position]
    assert counts.min() > 880 and counts.max() < 1120  # +-120 is ~4 standard deviations (sd ~27)
    big = np.asarray(ppo.shuffle_indices(jax.random.PRNGKey(1), 2048))
    assert sorted(big.tolist()) == list(range(2048)) and not (big == np.arange(2048)).all()
