import functools

import jax
import jax.numpy as jnp
import numpy as np

from jirl.algorithms import sac
from jirl.buffers import Transition, buffer_add, buffer_init

CFG = sac.SACConfig(hidden=(8, 8), batch_size=4)
OBS, ACT = 3, 2


def _mlp_np(layers, x):
    """NumPy forward of jirl.nets.MLP (relu hidden, linear output) from a dict of Dense_i params."""
    n = len(layers)
    for i in range(n):
        x = x @ np.asarray(layers[f"Dense_{i}"]["kernel"], np.float64) + np.asarray(layers[f"Dense_{i}"]["bias"], np.float64)
        if i < n - 1:
            x = np.maximum(x, 0.0)
    return x


def _actor_np(params, obs):
    out = _mlp_np(params["params"]["MLP_0"], obs)
    mean, raw = out[:, :ACT], out[:, ACT:]
    log_std = -5.0 + 0.5 * 7.0 * (np.tanh(raw) + 1.0)
    return mean, log_std


def _critics_np(params, obs, act):
    layers = params["params"]["VmapMLP_0"]
    x = np.concatenate([obs, act], -1)
    return np.stack([_mlp_np({k: {kk: vv[i] for kk, vv in v.items()} for k, v in layers.items()}, x)[:, 0] for i in range(2)])


def _tanh_sample_np(mean, log_std, eps):
    u = mean + np.exp(log_std) * eps
    logp = np.sum(-0.5 * eps**2 - log_std - 0.5 * np.log(2 * np.pi), -1) - np.sum(np.log(1 - np.tanh(u) ** 2), -1)
    return np.tanh(u), logp


def _batch(seed=0, terminated=(0, 1, 0, 0)):
    rng = np.random.default_rng(seed)
    return Transition(
        obs=jnp.asarray(rng.normal(size=(4, OBS)), jnp.float32),
        action=jnp.asarray(rng.uniform(-1, 1, size=(4, ACT)), jnp.float32),
        reward=jnp.asarray(rng.normal(size=4), jnp.float32),
        next_obs=jnp.asarray(rng.normal(size=(4, OBS)), jnp.float32),
        terminated=jnp.asarray(terminated, jnp.float32),
    )


def _noise(key, n):
    """The per-sample Gaussian noise critic_target/actor_loss draw from their split keys."""
    return np.stack([np.asarray(jax.random.normal(k, (ACT,)), np.float64) for k in jax.random.split(key, n)])


def test_critic_target_and_losses_match_numpy():
    state = sac.init(CFG, jax.random.PRNGKey(0), OBS, ACT)
    # make the target critics differ from the online ones so that the test tells them apart
    state = state.replace(target_critic_params=jax.tree_util.tree_map(lambda x: x * 0.9 + 0.01, state.critic_params))
    batch = _batch()
    key = jax.random.PRNGKey(7)
    alpha = float(jnp.exp(state.log_alpha))
    k_target, k_actor = jax.random.split(key)

    # --- NumPy reference of the soft Bellman target and the critic loss
    mean, log_std = _actor_np(state.actor_params, np.asarray(batch.next_obs, np.float64))
    a_next, logp_next = _tanh_sample_np(mean, log_std, _noise(k_target, 4))
    q_next = _critics_np(state.target_critic_params, np.asarray(batch.next_obs, np.float64), a_next).min(0)
    y = np.asarray(batch.reward) + CFG.gamma * (1 - np.asarray(batch.terminated)) * (q_next - alpha * logp_next)
    q = _critics_np(state.critic_params, np.asarray(batch.obs, np.float64), np.asarray(batch.action, np.float64))
    critic_loss_ref = np.mean(np.sum((q - y) ** 2, 0))

    targets = jax.vmap(sac.critic_target, in_axes=(None, None, None, None, 0, 0, 0, 0))(
        CFG, state.actor_params, state.target_critic_params, jnp.float32(alpha), batch.reward, batch.next_obs,
        batch.terminated, jax.random.split(k_target, 4),
    )
    np.testing.assert_allclose(np.asarray(targets), y, rtol=1e-4, atol=1e-4)
    # the terminated transition does not bootstrap
    np.testing.assert_allclose(float(targets[1]), float(batch.reward[1]), rtol=1e-6)

    new_state, metrics = sac.update(CFG, state, batch, key)
    np.testing.assert_allclose(float(metrics["critic_loss"]), critic_loss_ref, rtol=1e-4)

    # --- actor loss uses the *updated* critics
    mean, log_std = _actor_np(state.actor_params, np.asarray(batch.obs, np.float64))
    a_new, logp = _tanh_sample_np(mean, log_std, _noise(k_actor, 4))
    q_pi = _critics_np(new_state.critic_params, np.asarray(batch.obs, np.float64), a_new).min(0)
    np.testing.assert_allclose(float(metrics["actor_loss"]), np.mean(alpha * logp - q_pi), rtol=1e-4, atol=1e-5)
    # --- temperature loss with target entropy -|A|
    np.testing.assert_allclose(float(metrics["alpha_loss"]), -alpha * np.mean(logp - ACT), rtol=1e-4)
    np.testing.assert_allclose(float(metrics["entropy"]), -np.mean(logp), rtol=1e-4)


def test_truncation_bootstraps_termination_does_not():
    state = sac.init(CFG, jax.random.PRNGKey(1), OBS, ACT)
    batch = _batch(terminated=(0, 0, 0, 0))
    args = (CFG, state.actor_params, state.target_critic_params, jnp.float32(0.3))
    f = jax.vmap(sac.critic_target, in_axes=(None, None, None, None, 0, 0, 0, 0))
    keys = jax.random.split(jax.random.PRNGKey(3), 4)
    y_trunc = f(*args, batch.reward, batch.next_obs, jnp.zeros(4), keys)
    y_term = f(*args, batch.reward, batch.next_obs, jnp.ones(4), keys)
    np.testing.assert_allclose(np.asarray(y_term), np.asarray(batch.reward))
    assert np.all(np.abs(np.asarray(y_trunc - y_term)) > 1e-6)


def test_polyak_targets_and_step_counter():
    state = sac.init(CFG, jax.random.PRNGKey(2), OBS, ACT)
    new, _ = sac.update(CFG, state, _batch(), jax.random.PRNGKey(0))
    leaf = lambda t: np.asarray(jax.tree_util.tree_leaves(t)[1])
    expected = CFG.tau * leaf(new.critic_params) + (1 - CFG.tau) * leaf(state.target_critic_params)
    np.testing.assert_allclose(leaf(new.target_critic_params), expected, rtol=1e-5, atol=1e-7)
    assert int(new.step) == 1


def _run_updates(seed, n=20):
    state = sac.init(CFG, jax.random.PRNGKey(seed), OBS, ACT)
    example = jax.tree_util.tree_map(lambda x: x[0], _batch())
    buf = buffer_init(example, 64)
    for i in range(4):
        buf = buffer_add(buf, _batch(seed=i))
    f = jax.jit(functools.partial(sac.update_from_buffer, CFG, num_updates=n))
    state, metrics = f(state, buf, jax.random.PRNGKey(seed + 100))
    return state, metrics


def test_same_seed_gives_identical_parameters():
    s1, m1 = _run_updates(0)
    s2, m2 = _run_updates(0)
    s3, _ = _run_updates(1)
    for a, b in zip(jax.tree_util.tree_leaves(s1), jax.tree_util.tree_leaves(s2), strict=False):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert any(not np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(jax.tree_util.tree_leaves(s1.actor_params), jax.tree_util.tree_leaves(s3.actor_params), strict=False))
    assert int(s1.step) == 20


def test_updates_fit_a_fixed_dataset():
    """2000 fused updates on a tiny terminal-only buffer must reduce the critic loss and lower alpha toward the target entropy."""
    state = sac.init(CFG, jax.random.PRNGKey(0), OBS, ACT)
    example = jax.tree_util.tree_map(lambda x: x[0], _batch())
    buf = buffer_add(buffer_init(example, 16), _batch(seed=5, terminated=(1, 1, 1, 1)))
    one = jax.jit(functools.partial(sac.update_from_buffer, CFG, num_updates=1))
    _, first = one(state, buf, jax.random.PRNGKey(0))
    state, _ = jax.jit(functools.partial(sac.update_from_buffer, CFG, num_updates=2000))(state, buf, jax.random.PRNGKey(1))
    _, last = one(state, buf, jax.random.PRNGKey(2))
    assert float(last["critic_loss"]) < 0.1 * float(first["critic_loss"])
    assert float(jnp.exp(state.log_alpha)) < 1.0


def test_packed_transitions_unpack_to_the_same_buffer_contents():
    """The SAC loop ships each env step as one packed float32 array; unpacked in JAX it must fill the replay
    buffer exactly as the five separate arrays did, column for column (a terminated step included)."""
    from jirl.loops.sac import pack_transitions, unpack_transitions

    rng = np.random.default_rng(0)
    m, obs_dim, act_dim = 3, 5, 2
    obs, next_obs = rng.normal(size=(m, obs_dim)).astype(np.float32), rng.normal(size=(m, obs_dim)).astype(np.float32)
    action = rng.uniform(-1, 1, size=(m, act_dim)).astype(np.float32)
    reward, terminated = rng.normal(size=m).astype(np.float32), np.array([False, True, False])
    packed = pack_transitions(obs, action, reward, next_obs, terminated)
    assert packed.dtype == np.float32 and packed.shape == (m, 2 * obs_dim + act_dim + 2)
    t = unpack_transitions(jnp.asarray(packed.reshape(1, m, -1)), obs_dim, act_dim)  # with a leading seed axis
    for got, want in [(t.obs, obs), (t.action, action), (t.reward, reward), (t.next_obs, next_obs), (t.terminated, terminated.astype(np.float32))]:
        np.testing.assert_array_equal(np.asarray(got)[0], want)
    example = Transition(obs=jnp.zeros(obs_dim), action=jnp.zeros(act_dim), reward=jnp.zeros(()), next_obs=jnp.zeros(obs_dim), terminated=jnp.zeros(()))
    direct = buffer_add(buffer_init(example, 4), Transition(obs=obs, action=action, reward=reward, next_obs=next_obs, terminated=terminated.astype(np.float32)))
    via_packed = buffer_add(buffer_init(example, 4), unpack_transitions(jnp.asarray(packed), obs_dim, act_dim))
    for a, b in zip(jax.tree_util.tree_leaves(direct), jax.tree_util.tree_leaves(via_packed), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    with np.testing.assert_raises(AssertionError):  # a wrong width is caught, not silently mis-sliced
        unpack_transitions(jnp.asarray(packed), obs_dim + 1, act_dim)


def _buffer_copies(hlo: str, capacity: int) -> list[str]:
    """Lines of compiled HLO that copy an array with a ``capacity``-long axis (a whole replay-buffer field)."""
    return [line.strip() for line in hlo.splitlines() if " copy(" in line and f"{capacity}," in line.split(" copy(")[0]]


def test_in_graph_learning_loop_writes_the_replay_buffer_in_place():
    """The SAC loop's compiled chunk (a fori_loop of learn steps over a donated buffer) must not copy the buffer:
    sampling a pending view, then writing after the reads, keeps the write in place. The naive program (sample
    the old contents, write the new rows, nothing ordering the two) is compiled too, as a control that the
    check sees a copy when there is one."""
    from jirl.loops.sac import _example_transition, make_learn_step

    capacity, n_updates, k_seeds = 12_345, 2, 1
    state = jax.vmap(lambda k: sac.init(CFG, k, OBS, ACT))(jax.random.split(jax.random.PRNGKey(0), k_seeds))
    buffer = jax.vmap(lambda _: buffer_init(_example_transition(OBS, ACT), capacity))(jnp.arange(k_seeds))
    metrics = {name: jnp.zeros((k_seeds,)) for name in ("critic_loss", "actor_loss", "alpha_loss", "alpha", "entropy", "q_mean")}
    key = jax.random.split(jax.random.PRNGKey(1), k_seeds)
    packed = jnp.ones((k_seeds, 1, 2 * OBS + ACT + 2), jnp.float32)
    learn_one = make_learn_step(CFG, None, n_updates, OBS, ACT)

    def chunk(carry, n):
        def body(_, c):
            s, b, k, m = c
            s, b, _, k, m, _ = jax.vmap(learn_one)(s, b, None, k, m, None, packed)
            return s, b, k, m

        return jax.lax.fori_loop(0, n, body, carry)

    hlo = jax.jit(chunk, donate_argnums=(0,)).lower((state, buffer, key, metrics), 5).compile().as_text()
    assert _buffer_copies(hlo, capacity) == []

    def naive_learn(s, b, k, m):
        from jirl.loops.sac import unpack_transitions

        s, met = sac.update_from_buffer(CFG, s, b, k, n_updates)  # reads the old contents ...
        b = buffer_add(b, unpack_transitions(packed[0], OBS, ACT))  # ... and writes with nothing ordering the two
        return s, b, k, jax.tree_util.tree_map(jnp.add, m, met)

    def naive_chunk(carry, n):
        return jax.lax.fori_loop(0, n, lambda _, c: jax.vmap(naive_learn)(*c), carry)

    naive_hlo = jax.jit(naive_chunk, donate_argnums=(0,)).lower((state, buffer, key, metrics), 5).compile().as_text()
    assert _buffer_copies(naive_hlo, capacity), "control: the naive order should copy the buffer"
