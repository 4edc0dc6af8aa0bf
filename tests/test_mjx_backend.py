"""``--backend mjx``: PPO/GAIL rounds collected in jirl's pure-JAX HalfCheetah-v5 twin, on the device."""

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("mujoco.mjx", reason="mujoco-mjx is not installed (pip install -e '.[mjx]'); the MJX backend is optional")

from jirl.algorithms import ppo  # noqa: E402
from jirl.envs.mjx_halfcheetah import HalfCheetahMJX  # noqa: E402
from jirl.envs.normalize import norm_apply, norm_init  # noqa: E402
from jirl.loops.ppo import make_device_collect  # noqa: E402


def test_device_collect_matches_a_python_loop_over_the_twin():
    """The scanned on-device rollout stores what a step-by-step loop over the same twin, keys and policy gives:
    observations before each step, unclipped actions, the true final observation, episode ends at the (short)
    time limit with the reset observation carried on, and the returns of the finished episodes."""
    twin = HalfCheetahMJX(max_episode_steps=4)
    pcfg = ppo.PPOConfig(hidden=(16, 16), init_log_std=0.5)  # wide actions: some fall outside [-1, 1]
    params = ppo.init(pcfg, jax.random.PRNGKey(0), twin.obs_dim, twin.action_dim, 1).params
    norm = norm_init(twin.obs_dim)
    N, T = 3, 6
    env_state = jax.vmap(twin.reset)(jax.random.split(jax.random.PRNGKey(1), N))
    ep_return = jnp.zeros(N)
    key = jax.random.PRNGKey(2)

    collect = jax.jit(make_device_collect(pcfg, twin, T))
    rollout, _, ep_after, fin_sum, fin_n = collect(params, norm, env_state, ep_return, key)
    assert rollout.obs.shape == (T, N, twin.obs_dim) and rollout.action.shape == (T, N, twin.action_dim)

    step = jax.jit(jax.vmap(twin.step_autoreset))
    state, ret, finished = env_state, np.zeros(N), []
    for t, k in enumerate(jax.random.split(key, T)):
        obs = state.obs
        action, log_prob, value = ppo.sample_action(pcfg, params, norm_apply(norm, obs), k)
        state, next_obs, reward, terminated, truncated, info = step(state, jnp.clip(action, -1.0, 1.0))
        # float32 physics compiled inside one scan vs step by step: equal to rounding (measured <= 4e-5 here)
        np.testing.assert_allclose(rollout.obs[t], obs, rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(rollout.action[t], action, rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(rollout.log_prob[t], log_prob, rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(rollout.reward[t], reward, rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(rollout.final_obs[t], info["final_obs"], rtol=1e-3, atol=1e-3)
        np.testing.assert_array_equal(rollout.episode_end[t], np.asarray(truncated))
        ret += np.asarray(reward)
        finished += ret[np.asarray(truncated)].tolist()
        ret[np.asarray(truncated)] = 0.0
    assert np.abs(np.asarray(rollout.action)).max() > 1.0  # unclipped actions are stored, as on the bridge
    assert np.asarray(rollout.episode_end)[3].all() and not np.asarray(rollout.episode_end)[[0, 1, 2, 4, 5]].any()
    assert not np.allclose(rollout.obs[4], rollout.final_obs[3])  # after the time limit: a fresh episode
    assert int(fin_n) == len(finished) == N
    np.testing.assert_allclose(float(fin_sum), sum(finished), rtol=1e-3)
    np.testing.assert_allclose(ep_after, ret, rtol=1e-3, atol=1e-3)


def test_gail_on_the_twin_with_vmapped_seeds_evaluates_in_gymnasium(tmp_path, caplog):
    """`experiments/gail.py --backend mjx --num-seeds 2` with a tiny budget: every round runs in the twin (one
    call per round for both seeds, compiled once: a mix of device-committed and uncommitted inputs compiled it
    twice, 41 s each on a 2-core CPU), the discriminator learns to tell the shipped expert's pairs from the
    fresh policy's, and the evaluations are Gymnasium episodes."""
    import logging

    import jax

    from jirl.algorithms.gail import DiscriminatorConfig
    from jirl.algorithms.ppo import PPOConfig
    from jirl.loops.gail import GAILTrainConfig, train

    cfg = GAILTrainConfig(
        backend="mjx", num_seeds=2, seed=0, num_demos=2, total_steps=3 * 8 * 32, num_envs=8, eval_every=0, eval_episodes=1,
        checkpoint_every=0, bc_init=False, critic_warmup_rounds=0, bc_coef=0.0, run_dir=str(tmp_path / "run"),
        ppo=PPOConfig(hidden=(32, 32), num_steps=32, epochs=1, minibatch_size=64),
        disc=DiscriminatorConfig(hidden=(32, 32), steps_per_round=40, batch_size=64, learning_rate=1e-3, grad_penalty=0.0),
    )
    caplog.set_level(logging.WARNING)
    with jax.log_compiles(True):
        summary = train(cfg)
    compiles = [r for r in caplog.records if "Compiling jit(device_round)" in r.getMessage()]
    assert len(compiles) == 1, [r.getMessage()[:200] for r in compiles]
    assert summary["num_seeds"] == 2 and summary["env_steps"] == 768
    for seed in (0, 1):
        d = tmp_path / "run" / f"seed-{seed}"
        rows = [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()]
        assert [r["env_steps"] for r in rows] == [256, 512, 768]
        acc = [0.5 * (r["disc_acc_expert"] + r["disc_acc_policy"]) for r in rows]  # mean over each round's steps
        assert acc[-1] > 0.8 and acc[-1] > acc[0], acc
        assert json.loads((d / "config.json").read_text())["backend"] == "mjx"
        evals = [json.loads(line) for line in (d / "eval.jsonl").read_text().splitlines()]
        assert evals[-1]["episodes"] == 1 and np.isfinite(evals[-1]["mean_return"])


def test_backend_mjx_user_errors():
    from jirl.loops.common import UserError
    from jirl.loops.gail import GAILTrainConfig, train
    from jirl.loops.ppo import PPOTrainConfig
    from jirl.loops.ppo import train as ppo_train

    with pytest.raises(UserError, match="twin of HalfCheetah-v5 only"):
        ppo_train(PPOTrainConfig(env_id="Pendulum-v1", backend="mjx", run_dir="/nonexistent-never-created"))
    with pytest.raises(UserError, match="--learner ppo"):
        train(dataclasses.replace(GAILTrainConfig(), backend="mjx", learner="sac"))
