import numpy as np
import pytest

from jirl.envs import VecEnv, run_episodes
from jirl.envs.normalize import norm_apply, norm_init, norm_update


def test_truncation_returns_true_final_observation():
    env = VecEnv("HalfCheetah-v5", num_envs=2, seed=0, max_episode_steps=5)
    obs = env.reset()
    assert obs.shape == (2, 17) and obs.dtype == np.float32
    for t in range(5):
        res = env.step(np.full((2, 6), 0.5, np.float32))
        if t < 4:
            assert not res.truncated.any() and not res.terminated.any()
            np.testing.assert_array_equal(res.final_obs, res.obs)
            last_obs = res.obs
    assert res.truncated.all() and not res.terminated.any()  # HalfCheetah only truncates
    # obs is the reset observation; final_obs is where the episode really ended
    assert not np.allclose(res.final_obs, res.obs)
    assert np.abs(res.obs[:, :8]).max() < 0.2  # reset noise is small
    assert not np.allclose(res.final_obs, last_obs)
    assert len(res.finished_returns) == 2 and res.finished_lengths == [5, 5]


def test_termination_is_flagged_on_a_terminating_env():
    env = VecEnv("Hopper-v5", num_envs=1, seed=0)
    env.reset()
    for _ in range(1000):
        res = env.step(np.ones((1, env.action_dim), np.float32))  # full torque topples the hopper quickly
        if res.terminated[0]:
            break
    assert res.terminated[0] and not res.truncated[0]
    assert res.finished_lengths[0] < 1000
    assert not np.allclose(res.final_obs, res.obs)


def test_action_rescaling_to_env_bounds():
    env = VecEnv("Pendulum-v1", num_envs=1, seed=0)  # torque bounds [-2, 2]
    np.testing.assert_allclose(env.scale_action(np.array([[-1.0], [0.0], [1.0], [3.0]])), [[-2.0], [0.0], [2.0], [2.0]])


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="Box"):
        VecEnv("CartPole-v1")
    with pytest.raises(ValueError, match="cannot make"):
        VecEnv("NoSuchEnv-v0")
    env = VecEnv("Pendulum-v1", num_envs=2)
    env.reset()
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros((3, 1)))


def test_run_episodes_records_whole_episodes_with_seeds():
    env = VecEnv("HalfCheetah-v5", num_envs=2, seed=0, max_episode_steps=20)
    policy = lambda obs: np.tanh(obs[:, :6])
    r1, l1, traj = run_episodes(env, policy, 3, seed=5, record=True)
    r2, _, _ = run_episodes(env, policy, 3, seed=5)
    np.testing.assert_allclose(r1, r2)  # same seeds, same returns
    assert len(traj) == 3 and list(l1) == [20, 20, 20]
    for t, ret in zip(traj, r1, strict=False):
        assert t["obs"].shape == (20, 17) and t["action"].shape == (20, 6)
        np.testing.assert_allclose(t["reward"].sum(), ret, rtol=1e-5)
        np.testing.assert_array_equal(t["next_obs"][:-1], t["obs"][1:])  # consecutive within an episode
        assert t["truncated"][-1] and not t["truncated"][:-1].any()


def test_running_norm_matches_numpy():
    rng = np.random.default_rng(0)
    data = rng.normal(3.0, 2.0, size=(300, 4)).astype(np.float32)
    norm = norm_init(4)
    for chunk in np.split(data, 6):
        norm = norm_update(norm, chunk)
    np.testing.assert_allclose(np.asarray(norm.mean), data.mean(0), rtol=1e-4)
    np.testing.assert_allclose(np.asarray(norm.var), data.var(0), rtol=1e-3)
    z = np.asarray(norm_apply(norm, data))
    np.testing.assert_allclose(z.mean(0), 0.0, atol=1e-3)


def test_mujoco_deprecation_warning_is_not_shown():
    import subprocess
    import sys

    code = "from jirl.envs import VecEnv; VecEnv('HalfCheetah-v5', num_envs=4).reset()"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "settotalmass" not in out.stderr + out.stdout


@pytest.mark.parametrize("env_id", ["Pendulum-v1", "HalfCheetah-v5"])
def test_worker_processes_give_identical_results(env_id):
    """Stepping in 2 worker processes (shared memory) matches the in-process envs exactly, autoresets and
    finished-episode bookkeeping included."""
    rng = np.random.default_rng(0)
    with VecEnv(env_id, num_envs=5, seed=3, max_episode_steps=7) as local, VecEnv(env_id, num_envs=5, seed=3, max_episode_steps=7, workers=2) as remote:
        np.testing.assert_array_equal(local.reset(), remote.reset())
        ended = 0
        for _ in range(20):
            actions = rng.uniform(-1.2, 1.2, size=(5, local.action_dim))
            a, b = local.step(actions), remote.step(actions)
            for field in ("obs", "reward", "terminated", "truncated", "final_obs"):
                np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
            assert a.finished_returns == b.finished_returns and a.finished_lengths == b.finished_lengths
            ended += len(a.finished_returns)
        assert ended == 10  # 5 envs x 2 episodes of 7 steps in 20 steps
        assert remote.reset(seed=11).shape == (5, local.obs_dim)
    assert not remote._procs and remote._shm is None  # closed by the with-block


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_direct_mujoco_step_is_bit_identical_to_gymnasium(monkeypatch, threads):
    """HalfCheetah-v5 is stepped through MuJoCo directly (jirl.envs.gym_bridge.DirectGroup), on 1, 2 or 3
    threads (which take the 5 envs from a shared iterator, so any thread may step any env); observations, rewards, truncations, final observations and
    episode returns must equal Gymnasium's own ``env.step`` exactly, over several episodes with autoreset."""
    import gymnasium as gym

    N, limit, seed = 5, 60, 5
    env = VecEnv("HalfCheetah-v5", num_envs=N, seed=seed, max_episode_steps=limit, threads=threads)
    assert env._group.direct is not None  # the fast path is in use
    assert env.threads == threads and env._group.direct.threads == threads
    refs = [gym.make("HalfCheetah-v5", max_episode_steps=limit) for _ in range(N)]
    ref_obs = np.stack([r.reset(seed=seed + i)[0] for i, r in enumerate(refs)]).astype(np.float32)
    np.testing.assert_array_equal(env.reset(), ref_obs)
    rng = np.random.default_rng(1)
    returns, ended = np.zeros(N), []
    for _ in range(2 * limit + 7):
        actions = rng.uniform(-1.3, 1.3, size=(N, 6))
        res = env.step(actions)
        scaled = env.scale_action(actions)
        for i, r in enumerate(refs):
            o, rew, term, trunc, _ = r.step(scaled[i])
            np.testing.assert_array_equal(res.final_obs[i], o.astype(np.float32))
            assert res.reward[i] == np.float32(rew) and res.terminated[i] == term and res.truncated[i] == trunc
            returns[i] += rew
            if term or trunc:
                ended.append(returns[i])
                returns[i] = 0.0
                o, _ = r.reset()
            np.testing.assert_array_equal(res.obs[i], o.astype(np.float32))
        assert res.finished_returns == ended[len(ended) - len(res.finished_returns):]
    assert len(ended) == 2 * N
    env.close()
    assert VecEnv("Pendulum-v1", num_envs=8, threads=2)._group.direct is None  # other envs: Gymnasium's step
    assert VecEnv("Pendulum-v1", num_envs=8, threads=2).threads == 1
    monkeypatch.setenv("JIRL_GYM_STEP", "1")
    assert VecEnv("HalfCheetah-v5", num_envs=1)._group.direct is None  # the opt-out


def test_bad_worker_count_is_a_clear_error():
    with pytest.raises(ValueError, match="workers must be between 0 and num_envs"):
        VecEnv("Pendulum-v1", num_envs=2, workers=3)


def test_direct_step_function_is_bit_identical_to_gymnasium():
    """``direct_step_fn`` (one env, what experiments/profile_acting.py times) writes Gymnasium's observation into
    the caller's array and returns Gymnasium's reward, bit for bit."""
    import gymnasium as gym

    from jirl.envs.gym_bridge import direct_step_fn

    raw, ref = gym.make("HalfCheetah-v5"), gym.make("HalfCheetah-v5")
    raw.reset(seed=2)
    ref.reset(seed=2)
    step = direct_step_fn(raw)
    rng = np.random.default_rng(3)
    obs = np.empty(17, np.float32)
    for _ in range(30):
        a = rng.uniform(-1.0, 1.0, size=6)
        r = step(a, obs)
        o, want, *_ = ref.step(a)
        np.testing.assert_array_equal(obs, o.astype(np.float32))
        assert r == want


def test_env_lanes_run_every_lane_and_pass_errors_on():
    from jirl.envs.gym_bridge import _Lanes

    lanes = _Lanes(3)
    seen = []
    lanes.run(lambda j: seen.append(j))
    assert sorted(seen) == [0, 1, 2]

    def fail(j):
        if j == 2:
            raise RuntimeError("lane 2 broke")

    with pytest.raises(RuntimeError, match="lane 2 broke"):
        lanes.run(fail)

    def fail_both(j):
        raise (KeyError if j == 0 else RuntimeError)(f"lane {j}")

    with pytest.raises(KeyError):  # the caller's own error wins, and the lanes' are not kept for the next run
        lanes.run(fail_both)
    seen.clear()
    lanes.run(lambda j: seen.append(j))  # still usable after an error
    assert sorted(seen) == [0, 1, 2]
    lanes.close()
    assert not lanes._threads


@pytest.mark.parametrize("what, var, off", [("threads", "JIRL_ENV_THREADS", 1), ("workers", "JIRL_ENV_WORKERS", 0)])
def test_default_env_threads_and_workers(monkeypatch, what, var, off):
    """2 threads / 2 rollout workers with >= 8 envs on >= 2 cores, else 1 thread / 0 workers; the environment
    variable overrides (capped at the env count); a bad value is a one-line error."""
    from jirl.envs import gym_bridge

    default = getattr(gym_bridge, f"default_env_{what}")
    monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(gym_bridge, "available_cores", lambda: 2)
    assert default(8) == 2 and default(7) == off
    monkeypatch.setattr(gym_bridge, "available_cores", lambda: 1)
    assert default(16) == off
    monkeypatch.setenv(var, "3")
    assert default(16) == 3 and default(2) == 2
    monkeypatch.setenv(var, str(off))
    assert default(16) == off
    for bad in (str(off - 1), "two"):
        monkeypatch.setenv(var, bad)
        with pytest.raises(ValueError, match=f"{var} must be a whole number >= {off}, got"):
            default(8)
    with pytest.raises(ValueError, match="threads must be >= 1"):
        VecEnv("Pendulum-v1", num_envs=2, threads=0)


def _host_policy(rng, K: int, N: int, D: int, A: int, with_norm: bool):
    """A random 2-layer tanh HostPolicy for K seeds of N envs whose actions often leave [-1, 1] (clipping is exercised)."""
    from jirl.envs.gym_bridge import HostPolicy

    f32 = lambda *shape, scale=1.0: (scale * rng.standard_normal(shape)).astype(np.float32)
    layers = tuple(((f32(D, 8, scale=0.5), f32(8)), (f32(8, A, scale=1.5), f32(A, scale=0.3))) for _ in range(K))
    norm = tuple((f32(D), np.abs(f32(D)) + np.float32(0.5)) for _ in range(K)) if with_norm else None
    return HostPolicy(layers=layers, std=tuple(np.abs(f32(A)) + np.float32(0.1) for _ in range(K)), norm=norm, rows_per_seed=N)


@pytest.mark.parametrize("env_id", ["Pendulum-v1", "HalfCheetah-v5"])
def test_rollout_is_bit_identical_to_stepping_for_any_split(env_id):
    """VecEnv.rollout (a whole rollout per call, acting included; in worker processes each worker runs its own
    envs' rollout) equals acting with HostPolicy.act_rows on all rows and calling step() T times: observations,
    unclipped actions, rewards, flags, final observations, finished episodes and the next observations, over two
    rollouts in a row with time-limit resets inside, in-process (1 or 2 threads) and with 2 or 4 workers (4 splits
    a seed's envs between workers)."""
    K, N, T, limit = 2, 3, 11, 7
    rng = np.random.default_rng(1)
    with VecEnv(env_id, num_envs=K * N, seed=4, max_episode_steps=limit, threads=1) as ref:
        policy = _host_policy(rng, K, N, ref.obs_dim, ref.action_dim, with_norm=env_id == "HalfCheetah-v5")
        noises = [rng.standard_normal((T, K * N, ref.action_dim)).astype(np.float32) for _ in range(2)]
        obs = ref.reset()
        expected, scratch = [], {}
        for noise in noises:
            rows = {name: [] for name in ("obs", "action", "reward", "terminated", "episode_end", "final_obs")}
            finished = []
            for t in range(T):
                action = policy.act_rows(0, obs, noise[t], scratch)
                res = ref.step(np.clip(action, -1.0, 1.0))
                for name, value in (("obs", obs), ("action", action), ("reward", res.reward), ("terminated", res.terminated),
                                    ("episode_end", res.terminated | res.truncated), ("final_obs", res.final_obs)):
                    rows[name].append(value)
                ended = np.flatnonzero(res.terminated | res.truncated).tolist()
                finished += [(t, i, r, n) for i, r, n in zip(ended, res.finished_returns, res.finished_lengths, strict=True)]
                obs = res.obs
            expected.append(({name: np.stack(v) for name, v in rows.items()}, obs, finished))
    assert [len(f) for _, _, f in expected] == [K * N, 2 * K * N]  # episodes end at steps 7 (first rollout), 14 and 21 (second)
    for kwargs in (dict(threads=1), dict(threads=2), dict(workers=2), dict(workers=4)):
        with VecEnv(env_id, num_envs=K * N, seed=4, max_episode_steps=limit, **kwargs) as env:
            env.reset()
            for noise, (arrays, next_obs, finished) in zip(noises, expected, strict=True):
                got, got_next, got_finished = env.rollout(policy, noise)
                assert set(got) == set(arrays)
                for name in arrays:
                    np.testing.assert_array_equal(got[name], arrays[name], err_msg=f"{kwargs} {name}")
                    assert got[name].dtype == (np.bool_ if name in ("terminated", "episode_end") else np.float32)
                np.testing.assert_array_equal(got_next, next_obs)
                np.testing.assert_array_equal(env.current_obs, next_obs)
                assert got_finished == finished, kwargs
        if "workers" in kwargs:
            assert env._rollout_shm is None and not env._procs  # the rollout's shared memory is gone with the env


def test_rollout_rejects_bad_noise_and_needs_a_reset():
    rng = np.random.default_rng(0)
    with VecEnv("Pendulum-v1", num_envs=2) as env:
        policy = _host_policy(rng, 1, 2, env.obs_dim, env.action_dim, with_norm=False)
        with pytest.raises(RuntimeError, match="reset"):
            env.rollout(policy, np.zeros((3, 2, 1), np.float32))
        env.reset()
        for shape in ((3, 1, 1), (3, 2, 2), (0, 2, 1), (2, 1)):
            with pytest.raises(ValueError, match=r"noise must have shape \[T, 2, 1\]"):
                env.rollout(policy, np.zeros(shape, np.float32))


def test_a_failing_rollout_worker_is_reported():
    """An error inside a worker's rollout (here a policy for the wrong observation size) reaches the caller as a
    RuntimeError naming it, instead of a hang."""
    rng = np.random.default_rng(0)
    with VecEnv("Pendulum-v1", num_envs=2, workers=1) as env:
        env.reset()
        policy = _host_policy(rng, 1, 2, env.obs_dim + 1, env.action_dim, with_norm=False)
        with pytest.raises(RuntimeError, match="worker failed: ValueError"):
            env.rollout(policy, np.zeros((3, 2, 1), np.float32))


def test_host_policy_actions_do_not_depend_on_the_split():
    """HostPolicy.act_rows over any contiguous split of the rows (each part with its own scratch, as each worker
    process has) gives the full call's actions bit for bit, and each row equals its seed's MLP in float64 to
    float32 accuracy."""
    K, N, D, A = 3, 5, 4, 2
    rng = np.random.default_rng(3)
    policy = _host_policy(rng, K, N, D, A, with_norm=True)
    for _ in range(20):
        obs = (3.0 * rng.standard_normal((K * N, D))).astype(np.float32)
        noise = rng.standard_normal((K * N, A)).astype(np.float32)
        full = policy.act_rows(0, obs, noise, {})
        cuts = np.sort(rng.choice(np.arange(1, K * N), size=rng.integers(1, 6), replace=False)).tolist()
        parts = [policy.act_rows(a, obs[a:b], noise[a:b], {}) for a, b in zip([0, *cuts], [*cuts, K * N], strict=True)]
        np.testing.assert_array_equal(np.concatenate(parts), full)
        for r in range(K * N):
            k = r // N
            mean, scale = policy.norm[k]
            x = np.clip((obs[r].astype(np.float64) - mean) / scale, -10.0, 10.0)
            (w1, b1), (w2, b2) = policy.layers[k]
            expected = np.tanh(x @ w1 + b1) @ w2 + b2 + policy.std[k] * noise[r]
            np.testing.assert_allclose(full[r], expected, rtol=1e-5, atol=1e-5)
