"""Maximum-entropy inverse RL on tabular MDPs (Ziebart et al. 2008), exact and jitted.

Model: the expert acts with the soft-optimal (maximum causal entropy) policy of an unknown state reward
``r_theta(s)``. For a finite horizon ``T`` and discount ``gamma`` (``gamma = 1`` is Ziebart's undiscounted
case), the backward pass is soft value iteration::

    V_T(s)      = 0
    Q_t(s, a)   = r(s) + gamma * sum_s' P(s' | s, a) V_{t+1}(s')
    V_t(s)      = log sum_a exp Q_t(s, a)
    pi_t(a | s) = exp(Q_t(s, a) - V_t(s))

and the forward pass gives the exact expected (discounted) state-visitation frequencies::

    d_0 = p_0,   d_{t+1}(s') = sum_{s, a} d_t(s) pi_t(a | s) P(s' | s, a),   D(s) = sum_{t < T} gamma^t d_t(s)

so ``sum_s D(s) = sum_{t < T} gamma^t`` (``T`` when ``gamma = 1``). With ``horizon=None`` the problem is
infinite-horizon discounted: one stationary policy from soft value iteration run to convergence, and
``D = (I - gamma P_pi^T)^{-1} p_0`` (a linear solve), which sums to ``1 / (1 - gamma)``.

The gradient of the demonstrations' log-likelihood with respect to the reward parameters is::

    grad = sum_s (D_E(s) - D_theta(s)) * d r_theta(s) / d theta

with ``D_E`` the expert's empirical visitation frequencies. For a linear reward ``r = Phi w`` this is the
classic "expert feature expectations minus the learner's expected feature counts"; for a neural reward
(deep MaxEnt IRL, Wulfmeier et al. 2015) the same vector ``D_E - D_theta`` is back-propagated through the
network. :func:`surrogate_loss` is the scalar whose autodiff gradient is exactly ``-grad``.

Shapes: ``S`` states, ``A`` actions, ``F`` features, ``T`` horizon. Finite-horizon policies are
``[T, S, A]``, infinite-horizon ones ``[S, A]``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jirl.envs.tabular import TabularMDP
from jirl.nets import default_init

# ----------------------------------------------------------------------------------------------------------
# Backward pass: soft (and hard) value iteration


def _q_values(transitions: jax.Array, reward: jax.Array, gamma: float, v_next: jax.Array) -> jax.Array:
    """``Q(s, a) = r(s) + gamma * sum_s' P(s' | s, a) V(s')``: ``[S, A]``."""
    return reward[:, None] + gamma * transitions @ v_next


def _finite_horizon_q(transitions, reward, gamma: float, horizon: int, backup) -> jax.Array:
    """``Q_t`` for ``t = 0..T-1`` (``[T, S, A]``) by a reverse scan from ``V_T = 0`` with ``V_t = backup(Q_t)``
    (log-sum-exp: soft value iteration; max: hard)."""
    S, A = transitions.shape[:2]
    chex.assert_shape(transitions, (S, A, S))
    chex.assert_shape(reward, (S,))

    def backward(v_next, _):
        q = _q_values(transitions, reward, gamma, v_next)
        return backup(q), q

    _, qs = jax.lax.scan(backward, jnp.zeros(S, reward.dtype), None, length=horizon, reverse=True)
    return qs


def _infinite_horizon_q(transitions, reward, gamma: float, backup, tol: float, max_iters: int) -> jax.Array:
    """The fixed point ``Q`` (``[S, A]``) of ``V = backup(r + gamma P V)``, iterated until
    ``max |V_new - V| < tol * (1 + max |V|)`` (or ``max_iters``)."""
    S, A = transitions.shape[:2]
    chex.assert_shape(transitions, (S, A, S))
    chex.assert_shape(reward, (S,))
    bellman = lambda v: backup(_q_values(transitions, reward, gamma, v))

    def not_converged(carry):
        v, v_prev, i = carry
        return (jnp.max(jnp.abs(v - v_prev)) > tol * (1.0 + jnp.max(jnp.abs(v)))) & (i < max_iters)

    v0 = jnp.zeros(S, reward.dtype)
    v, _, _ = jax.lax.while_loop(not_converged, lambda c: (bellman(c[0]), c[0], c[2] + 1), (bellman(v0), v0, 1))
    return _q_values(transitions, reward, gamma, v)


_logsumexp = lambda q: jax.nn.logsumexp(q, axis=-1)
_max = lambda q: q.max(-1)


def soft_value_iteration(transitions: jax.Array, reward: jax.Array, gamma: float, horizon: int) -> tuple[jax.Array, jax.Array]:
    """Finite-horizon soft value iteration. ``transitions [S, A, S]``, ``reward [S]`` ->
    ``(log_policy [T, S, A], values [T, S])`` with ``values[t] = V_t``."""
    q = _finite_horizon_q(transitions, reward, gamma, horizon, _logsumexp)
    v = _logsumexp(q)
    return q - v[..., None], v


def soft_value_iteration_infinite(
    transitions: jax.Array, reward: jax.Array, gamma: float, tol: float = 1e-6, max_iters: int = 100_000
) -> tuple[jax.Array, jax.Array]:
    """Infinite-horizon discounted soft value iteration run until ``max |V_new - V| < tol * (1 + max |V|)``.
    Returns ``(log_policy [S, A], values [S])``."""
    q = _infinite_horizon_q(transitions, reward, gamma, _logsumexp, tol, max_iters)
    v = _logsumexp(q)
    return q - v[:, None], v


def greedy_policy(mdp: TabularMDP, reward: jax.Array) -> jax.Array:
    """The optimal deterministic policy for ``reward`` (hard value iteration), as one-hot probabilities:
    ``[T, S, A]`` (finite horizon) or ``[S, A]``."""
    if mdp.horizon is not None:
        q = _finite_horizon_q(mdp.transitions, reward, mdp.gamma, mdp.horizon, _max)
    else:
        q = _infinite_horizon_q(mdp.transitions, reward, mdp.gamma, _max, 1e-6, 100_000)
    return jax.nn.one_hot(q.argmax(-1), mdp.num_actions, dtype=reward.dtype)


def soft_policy(mdp: TabularMDP, reward: jax.Array) -> jax.Array:
    """The maximum-entropy (soft-optimal) policy of ``reward``: ``[T, S, A]`` or ``[S, A]`` probabilities."""
    if mdp.horizon is not None:
        return jnp.exp(soft_value_iteration(mdp.transitions, reward, mdp.gamma, mdp.horizon)[0])
    return jnp.exp(soft_value_iteration_infinite(mdp.transitions, reward, mdp.gamma)[0])


# ----------------------------------------------------------------------------------------------------------
# Forward pass: expected state-visitation frequencies


def state_visitation(transitions: jax.Array, init_dist: jax.Array, policy: jax.Array, gamma: float) -> jax.Array:
    """Exact discounted visitation ``D(s) = sum_{t<T} gamma^t P(s_t = s)`` of a time-indexed policy
    ``[T, S, A]`` started from ``init_dist [S]``. Returns ``[S]``."""
    S, A = transitions.shape[:2]
    chex.assert_shape(policy, (None, S, A))
    chex.assert_shape(init_dist, (S,))

    def forward(carry, pi_t):
        d, discount = carry
        d_next = jnp.einsum("s,sa,sap->p", d, pi_t, transitions)
        return (d_next, discount * gamma), discount * d

    _, weighted = jax.lax.scan(forward, (init_dist, jnp.ones((), init_dist.dtype)), policy)
    return weighted.sum(0)


def state_visitation_infinite(transitions: jax.Array, init_dist: jax.Array, policy: jax.Array, gamma: float) -> jax.Array:
    """Exact discounted visitation of a stationary policy ``[S, A]``: ``D = (I - gamma P_pi^T)^{-1} p_0``."""
    S, A = transitions.shape[:2]
    chex.assert_shape(policy, (S, A))
    p_pi = jnp.einsum("sa,sap->sp", policy, transitions)
    return jnp.linalg.solve(jnp.eye(S, dtype=p_pi.dtype) - gamma * p_pi.T, init_dist)


def visitation(mdp: TabularMDP, policy: jax.Array) -> jax.Array:
    """:func:`state_visitation` or :func:`state_visitation_infinite`, whichever the MDP's horizon calls for."""
    if mdp.horizon is not None:
        if policy.ndim == 2:
            policy = jnp.broadcast_to(policy, (mdp.horizon, *policy.shape))
        return state_visitation(mdp.transitions, mdp.init_dist, policy, mdp.gamma)
    return state_visitation_infinite(mdp.transitions, mdp.init_dist, policy, mdp.gamma)


def expected_svf(mdp: TabularMDP, reward: jax.Array) -> jax.Array:
    """Expected state-visitation frequencies ``[S]`` of the soft-optimal policy of ``reward``."""
    return visitation(mdp, soft_policy(mdp, reward))


def policy_return(mdp: TabularMDP, policy: jax.Array, reward: jax.Array) -> jax.Array:
    """Exact expected (discounted) return of ``policy`` under ``reward`` from the initial distribution."""
    return jnp.dot(visitation(mdp, policy), reward)


# ----------------------------------------------------------------------------------------------------------
# Demonstrations


def sample_trajectories(mdp: TabularMDP, policy: jax.Array, key: chex.PRNGKey, num: int, length: int | None = None) -> tuple[jax.Array, jax.Array]:
    """Sample ``num`` trajectories: ``(states [num, L], actions [num, L])``, ``L = length or mdp.horizon``.
    ``policy`` is ``[T, S, A]`` (time-indexed; needs ``L <= T``) or stationary ``[S, A]``."""
    L = length if length is not None else mdp.horizon
    if L is None:
        raise ValueError("an infinite-horizon MDP needs an explicit trajectory length")
    if policy.ndim == 2:
        policy = jnp.broadcast_to(policy, (L, *policy.shape))
    if policy.shape[0] < L:
        raise ValueError(f"a time-indexed policy of {policy.shape[0]} steps cannot drive {L}-step trajectories")
    log_p, log_pi = jnp.log(mdp.transitions), jnp.log(policy[:L])

    def one(key):
        k0, k = jax.random.split(key)
        s0 = jax.random.categorical(k0, jnp.log(mdp.init_dist))

        def step(s, inp):
            lp_t, k_t = inp
            ka, ks = jax.random.split(k_t)
            a = jax.random.categorical(ka, lp_t[s])
            return jax.random.categorical(ks, log_p[s, a]), (s, a)

        _, (states, actions) = jax.lax.scan(step, s0, (log_pi, jax.random.split(k, L)))
        return states, actions

    return jax.vmap(one)(jax.random.split(key, num))


def empirical_svf(states: jax.Array, num_states: int, gamma: float) -> jax.Array:
    """Discounted visitation counts averaged over trajectories: ``states [N, L]`` -> ``[S]``."""
    chex.assert_rank(states, 2)
    discounts = gamma ** jnp.arange(states.shape[1], dtype=jnp.float32)
    counts = jax.nn.one_hot(states, num_states) * discounts[None, :, None]
    return counts.sum(1).mean(0)


# ----------------------------------------------------------------------------------------------------------
# The IRL gradient and the learner


@dataclasses.dataclass(frozen=True)
class MaxEntIRLConfig:
    """MaxEnt IRL hyperparameters."""

    hidden: tuple[int, ...] = ()
    """Hidden layers of the reward network on the features; () is a linear reward r = Phi w (Ziebart),
    e.g. (32, 32) is deep MaxEnt IRL."""
    learning_rate: float = 0.05
    """Adam learning rate on the reward parameters."""
    iterations: int = 500
    """Gradient steps (each one backward and one forward pass over the whole MDP)."""
    l2: float = 0.3
    """L2 penalty (a Gaussian prior) on the reward weights: keeps the reward of rarely visited states from
    chasing sampling noise."""


def reward_net(config: MaxEntIRLConfig) -> nn.Module:
    """``features [S, F] -> reward [S]`` as an MLP with ``config.hidden`` hidden layers (none: linear)."""
    return _RewardNet(tuple(config.hidden))


class _RewardNet(nn.Module):
    hidden: tuple[int, ...]

    @nn.compact
    def __call__(self, features: jax.Array) -> jax.Array:
        x = features
        for h in self.hidden:
            x = nn.relu(nn.Dense(h, kernel_init=default_init())(x))
        # no output bias: a constant shift of the reward changes no policy, so its gradient is zero up to
        # rounding, which Adam would blow up into a random walk
        out = nn.Dense(1, use_bias=False, kernel_init=default_init(0.1) if self.hidden else nn.initializers.zeros)
        return out(x)[..., 0]


def surrogate_loss(params: Any, apply_fn, mdp: TabularMDP, expert_svf: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``-(stop_grad(D_E - D_theta) . r_theta)``: its gradient is minus the MaxEnt log-likelihood gradient.
    Returns ``(loss, (learner_svf [S], reward [S]))``."""
    reward = apply_fn(params, mdp.features)
    learner_svf = expected_svf(mdp, jax.lax.stop_gradient(reward))
    return -jnp.dot(jax.lax.stop_gradient(expert_svf - learner_svf), reward), (learner_svf, reward)


def irl_gradient(params: Any, apply_fn, mdp: TabularMDP, expert_svf: jax.Array) -> Any:
    """The MaxEnt IRL ascent direction ``sum_s (D_E - D_theta)(s) d r_theta(s) / d theta`` (a params pytree)."""
    grads = jax.grad(lambda p: surrogate_loss(p, apply_fn, mdp, expert_svf)[0])(params)
    return jax.tree_util.tree_map(jnp.negative, grads)


@chex.dataclass(frozen=True)
class MaxEntIRLResult:
    params: Any
    reward: jax.Array  # [S] recovered reward
    history: dict  # per-iteration metrics, each [iterations]


def pearson(x: jax.Array, y: jax.Array) -> jax.Array:
    """Pearson correlation of two vectors (invariant to shifting and scaling either)."""
    xc, yc = x - x.mean(), y - y.mean()
    return jnp.dot(xc, yc) / jnp.sqrt(jnp.dot(xc, xc) * jnp.dot(yc, yc) + 1e-12)


def fit(config: MaxEntIRLConfig, mdp: TabularMDP, expert_svf: jax.Array, key: chex.PRNGKey) -> MaxEntIRLResult:
    """Recover a reward from the expert's visitation frequencies ``expert_svf [S]`` by gradient ascent on the
    MaxEnt log-likelihood (Adam, ``config.iterations`` steps in one ``lax.scan``). Pure and jit-able; the
    true reward in ``mdp`` is only used for the logged ``pearson`` curve."""
    chex.assert_shape(expert_svf, (mdp.num_states,))
    net = reward_net(config)
    params = net.init(key, mdp.features)
    tx = optax.adam(config.learning_rate)
    if config.l2 > 0:
        tx = optax.chain(optax.add_decayed_weights(config.l2, mask=lambda p: jax.tree_util.tree_map(lambda x: x.ndim > 1, p)), tx)
    opt_state = tx.init(params)
    horizon_mass = expert_svf.sum()

    def step(carry, _):
        params, opt_state = carry
        (_, (learner_svf, reward)), grads = jax.value_and_grad(surrogate_loss, has_aux=True)(params, net.apply, mdp, expert_svf)
        updates, opt_state = tx.update(grads, opt_state, params)
        metrics = {
            "svf_gap": 0.5 * jnp.abs(expert_svf - learner_svf).sum() / horizon_mass,  # total variation, [0, 1]
            "feature_gap": jnp.linalg.norm(mdp.features.T @ (expert_svf - learner_svf)),
            "pearson": pearson(reward, mdp.reward),
        }
        return (optax.apply_updates(params, updates), opt_state), metrics

    (params, _), history = jax.lax.scan(step, (params, opt_state), None, length=config.iterations)
    return MaxEntIRLResult(params=params, reward=net.apply(params, mdp.features), history=history)


def evaluate_reward(mdp: TabularMDP, recovered: jax.Array) -> dict:
    """How good is a recovered reward? ``pearson`` with the true reward, and the true return of the optimal
    (greedy) policy for the recovered reward: as a ratio of the optimal true return (``return_ratio``) and
    normalized between the uniform-random policy (0) and the optimal one (1) (``normalized_return``)."""
    chex.assert_shape(recovered, (mdp.num_states,))
    optimal = policy_return(mdp, greedy_policy(mdp, mdp.reward), mdp.reward)
    learned = policy_return(mdp, greedy_policy(mdp, recovered), mdp.reward)
    uniform = policy_return(mdp, jnp.full((mdp.num_states, mdp.num_actions), 1.0 / mdp.num_actions), mdp.reward)
    return {
        "pearson": pearson(recovered, mdp.reward),
        "return_ratio": learned / optimal,
        "normalized_return": (learned - uniform) / (optimal - uniform),
        "optimal_return": optimal,
        "learned_return": learned,
        "uniform_return": uniform,
    }
