"""Tabular MDPs and exact MaxEnt IRL: soft value iteration against NumPy, visitation frequencies (mass and
Monte Carlo), the IRL gradient's fixed point, and reward recovery."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jirl.algorithms import maxent_irl as mi
from jirl.envs import tabular


def three_state_mdp(horizon, gamma):
    rng = np.random.default_rng(3)
    P = rng.dirichlet(np.ones(3), size=(3, 2))  # [S=3, A=2, S=3]
    return tabular.TabularMDP(
        transitions=jnp.asarray(P, jnp.float32),
        features=jnp.eye(3),
        reward=jnp.asarray([0.3, -1.0, 0.8], jnp.float32),
        init_dist=jnp.asarray([0.5, 0.3, 0.2], jnp.float32),
        gamma=gamma,
        horizon=horizon,
    )


def numpy_soft_vi(P, r, gamma, horizon):
    """Plain loops: V_T = 0, Q_t = r + gamma P V_{t+1}, V_t = log sum exp Q_t."""
    S, A, _ = P.shape
    V = np.zeros(S)
    log_pis = []
    for _ in range(horizon):
        Q = np.zeros((S, A))
        for s in range(S):
            for a in range(A):
                Q[s, a] = r[s] + gamma * sum(P[s, a, s2] * V[s2] for s2 in range(S))
        V = np.log(np.exp(Q).sum(1))
        log_pis.append(Q - V[:, None])
    return np.array(log_pis[::-1]), V


def test_tabular_worlds_are_valid_mdps():
    for mdp in (tabular.gridworld(5), tabular.gridworld(4, features="rbf", slip=0.0), tabular.objectworld(6, num_objects=4)[0]):
        tabular.validate(mdp)
    with pytest.raises(ValueError, match="probability"):
        bad = tabular.gridworld(3)
        tabular.validate(bad.replace(transitions=bad.transitions * 2))


def test_grid_dynamics_slip_and_walls():
    P = tabular.grid_transitions(3, 3, slip=0.0)
    centre, right_of_centre, top_left = 4, 5, 0
    assert P[centre, 1, right_of_centre] == 1.0  # action 1 = right
    assert P[top_left, 4, top_left] == 1.0  # up from the top row stays
    P = tabular.grid_transitions(3, 3, slip=0.5)
    # intended move 0.5 + slip mass: one of five uniformly random actions also goes right
    assert P[centre, 1, right_of_centre] == pytest.approx(0.5 + 0.5 / 5)
    assert P[centre, 1, centre] == pytest.approx(0.5 / 5)


@pytest.mark.parametrize("gamma", [1.0, 0.9])
def test_soft_value_iteration_matches_numpy(gamma):
    mdp = three_state_mdp(horizon=6, gamma=gamma)
    log_pi, values = mi.soft_value_iteration(mdp.transitions, mdp.reward, gamma, 6)
    ref_log_pi, ref_v0 = numpy_soft_vi(np.asarray(mdp.transitions, np.float64), np.asarray(mdp.reward, np.float64), gamma, 6)
    np.testing.assert_allclose(log_pi, ref_log_pi, atol=1e-5)
    np.testing.assert_allclose(values[0], ref_v0, atol=1e-5)


def test_infinite_horizon_soft_vi_is_the_fixed_point():
    mdp = three_state_mdp(horizon=None, gamma=0.9)
    log_pi, v = mi.soft_value_iteration_infinite(mdp.transitions, mdp.reward, 0.9)
    _, ref_v = numpy_soft_vi(np.asarray(mdp.transitions, np.float64), np.asarray(mdp.reward, np.float64), 0.9, 400)
    np.testing.assert_allclose(v, ref_v, rtol=1e-4)
    np.testing.assert_allclose(jnp.exp(log_pi).sum(-1), 1.0, atol=1e-6)


def test_visitation_mass_horizon_and_discount():
    mdp = tabular.gridworld(4, horizon=7)
    svf = mi.expected_svf(mdp, mdp.reward)
    assert float(svf.sum()) == pytest.approx(7.0, rel=1e-5)
    disc = tabular.gridworld(4, horizon=7, gamma=0.8)
    assert float(mi.expected_svf(disc, disc.reward).sum()) == pytest.approx(sum(0.8**t for t in range(7)), rel=1e-5)
    inf = three_state_mdp(horizon=None, gamma=0.9)
    assert float(mi.expected_svf(inf, inf.reward).sum()) == pytest.approx(10.0, rel=1e-4)


def test_visitation_matches_monte_carlo():
    mdp = tabular.gridworld(4, horizon=6, slip=0.3)
    pi = mi.soft_policy(mdp, 3.0 * mdp.reward)
    exact = mi.visitation(mdp, pi)
    states, actions = mi.sample_trajectories(mdp, pi, jax.random.PRNGKey(0), 20_000)
    assert states.shape == actions.shape == (20_000, 6)
    mc = mi.empirical_svf(states, mdp.num_states, mdp.gamma)
    # each entry is a mean of 20k bounded counts: standard error < 6 / sqrt(20k) ~ 0.04; typical error ~0.01
    np.testing.assert_allclose(mc, exact, atol=0.03)
    assert float(jnp.abs(mc - exact).max()) > 0  # really sampled
    # the infinite-horizon linear solve agrees with long discounted rollouts too
    inf = tabular.gridworld(3, horizon=None, gamma=0.7)
    pi_inf = mi.soft_policy(inf, inf.reward)
    s_inf, _ = mi.sample_trajectories(inf, pi_inf, jax.random.PRNGKey(1), 20_000, length=60)
    np.testing.assert_allclose(mi.empirical_svf(s_inf, inf.num_states, 0.7), mi.visitation(inf, pi_inf), atol=0.03)


def linear_params_for(reward):
    """Params of the linear reward net (one-hot features) that output exactly ``reward``."""
    return {"params": {"Dense_0": {"kernel": reward[:, None]}}}


def test_irl_gradient_vanishes_when_learner_matches_expert():
    mdp = tabular.gridworld(5)
    cfg = mi.MaxEntIRLConfig()
    net = mi.reward_net(cfg)
    template = net.init(jax.random.PRNGKey(0), mdp.features)
    assert jax.tree_util.tree_structure(template) == jax.tree_util.tree_structure(linear_params_for(mdp.reward))
    expert_svf = mi.expected_svf(mdp, mdp.reward)  # exact expectations of the soft-optimal expert
    at_truth = mi.irl_gradient(linear_params_for(mdp.reward), net.apply, mdp, expert_svf)
    at_zero = mi.irl_gradient(linear_params_for(jnp.zeros_like(mdp.reward)), net.apply, mdp, expert_svf)
    assert float(jnp.abs(at_truth["params"]["Dense_0"]["kernel"]).max()) < 1e-5
    g0 = at_zero["params"]["Dense_0"]["kernel"][:, 0]
    assert float(jnp.abs(g0).max()) > 0.05
    # linear reward: the gradient is the expert's feature expectations minus the learner's expected counts
    learner_svf = mi.expected_svf(mdp, jnp.zeros_like(mdp.reward))
    np.testing.assert_allclose(g0, mdp.features.T @ (expert_svf - learner_svf), atol=1e-5)
    # ascending it raises the reward where the expert goes more often than the uniform learner
    assert float(jnp.corrcoef(g0, mdp.reward)[0, 1]) > 0.5


def test_deep_reward_gradient_is_backpropagated_svf_difference():
    mdp, _ = tabular.objectworld(6, num_objects=4)
    cfg = mi.MaxEntIRLConfig(hidden=(16,))
    net = mi.reward_net(cfg)
    params = net.init(jax.random.PRNGKey(1), mdp.features)
    expert_svf = mi.expected_svf(mdp, mdp.reward)
    grad = mi.irl_gradient(params, net.apply, mdp, expert_svf)
    reward, vjp = jax.vjp(lambda p: net.apply(p, mdp.features), params)
    (manual,) = vjp(expert_svf - mi.expected_svf(mdp, reward))
    for a, b in zip(jax.tree_util.tree_leaves(grad), jax.tree_util.tree_leaves(manual), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_fit_recovers_reward_from_exact_and_sampled_demos():
    mdp = tabular.gridworld(5)
    exact = mi.fit(mi.MaxEntIRLConfig(l2=0.0, iterations=400), mdp, mi.expected_svf(mdp, mdp.reward), jax.random.PRNGKey(0))
    assert float(mi.pearson(exact.reward, mdp.reward)) > 0.99
    assert float(exact.history["svf_gap"][-1]) < 0.1 * float(exact.history["svf_gap"][0])
    states, _ = mi.sample_trajectories(mdp, mi.soft_policy(mdp, mdp.reward), jax.random.PRNGKey(1), 2000)
    sampled = mi.fit(mi.MaxEntIRLConfig(), mdp, mi.empirical_svf(states, mdp.num_states, 1.0), jax.random.PRNGKey(0))
    ev = mi.evaluate_reward(mdp, sampled.reward)
    assert float(ev["pearson"]) > 0.9
    assert float(ev["return_ratio"]) > 0.98
    # a reward unrelated to the truth does much worse, so the check can fail
    noise = jax.random.normal(jax.random.PRNGKey(2), (mdp.num_states,))
    assert float(mi.evaluate_reward(mdp, noise)["normalized_return"]) < 0.9


def test_evaluate_reward_of_truth_is_optimal():
    mdp = tabular.gridworld(4)
    ev = mi.evaluate_reward(mdp, mdp.reward)
    assert float(ev["pearson"]) == pytest.approx(1.0, abs=1e-5)
    assert float(ev["return_ratio"]) == pytest.approx(1.0, abs=1e-6)
    soft = mi.policy_return(mdp, mi.soft_policy(mdp, mdp.reward), mdp.reward)
    assert float(soft) <= float(ev["optimal_return"]) + 1e-5


def test_experiment_script_small(tmp_path, run_script):
    args = ["--worlds", "grid5", "--num-demos", "300", "--num-seeds", "2", "--linear.iterations", "150", "--run-dir", tmp_path]
    out = run_script("maxent_irl.py", *args)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(summary["results"]) == {"grid5/linear"}
    assert summary["results"]["grid5/linear"]["return_ratio_mean"] > 0.9
    assert (tmp_path / "maxent_irl.png").stat().st_size > 10_000
    assert "| gridworld-5x5 | linear |" in (tmp_path / "table.md").read_text()
    bad = run_script("maxent_irl.py", "--num-demos", "0", "--run-dir", tmp_path / "x", timeout=300)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and bad.stderr.strip().startswith("error:")
