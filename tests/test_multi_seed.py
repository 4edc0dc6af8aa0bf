"""Seeds as a batch dimension (``--num-seeds K``): K vmapped agents give what K separate runs give."""

import dataclasses
import json

import numpy as np
import pytest

from jirl.algorithms.gail import DiscriminatorConfig
from jirl.algorithms.ppo import PPOConfig
from jirl.loops.common import UserError
from jirl.policy import load_policy


def tiny_gail(demos, run_dir, **kw):
    from jirl.algorithms.bc import BCConfig
    from jirl.loops.gail import GAILTrainConfig

    base = GAILTrainConfig(
        env_id="Pendulum-v1",
        demos=str(demos),
        num_demos=2,
        total_steps=3 * 4 * 80,  # 3 rounds of 4 envs x 80 steps (Pendulum's 200-step episodes end in round 3)
        num_envs=4,
        eval_every=2 * 4 * 80,
        eval_episodes=2,
        checkpoint_every=2 * 4 * 80,
        critic_warmup_rounds=1,
        run_dir=str(run_dir),
        ppo=PPOConfig(hidden=(32, 32), num_steps=80, epochs=2, minibatch_size=64, init_log_std=-0.5),
        disc=DiscriminatorConfig(hidden=(32, 32), steps_per_round=2, batch_size=64),
        bc=BCConfig(max_epochs=5, batch_size=64),
    )
    return dataclasses.replace(base, **kw)


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_vmapped_gail_seeds_match_separate_runs(tmp_path, pendulum_demos):
    """Two seeds in one program (BC start, discriminator, PPO, evaluation) equal two single-seed runs: the same
    training metrics, evaluation returns and final policy parameters, per seed."""
    from jirl.loops.gail import train

    multi = train(tiny_gail(pendulum_demos, tmp_path / "multi", seed=5, num_seeds=2))
    singles = [train(tiny_gail(pendulum_demos, tmp_path / f"single-{s}", seed=s)) for s in (5, 6)]

    assert multi["num_seeds"] == 2 and multi["seeds"] == [5, 6]
    assert multi["env_steps"] == 3 * 320 and multi["total_env_steps"] == 2 * 3 * 320
    assert (tmp_path / "multi" / "curve.png").stat().st_size > 0
    assert json.loads((tmp_path / "multi" / "summary.json").read_text())["seeds"] == [5, 6]
    np.testing.assert_allclose(multi["mean_return_per_seed"], [s["mean_return"] for s in singles], rtol=1e-4, atol=1e-3)
    assert multi["mean_return"] == pytest.approx(np.mean([s["mean_return"] for s in singles]), rel=1e-4, abs=1e-3)
    for seed, single, mine in zip((5, 6), singles, multi["per_seed"], strict=True):
        assert mine["best_policy_fresh_mean_return"] == pytest.approx(single["best_policy_fresh_mean_return"], rel=1e-4, abs=1e-3)
        d, s = tmp_path / "multi" / f"seed-{seed}", tmp_path / f"single-{seed}"
        assert json.loads((d / "config.json").read_text())["seed"] == seed
        m_rows, s_rows = read_jsonl(d / "metrics.jsonl"), read_jsonl(s / "metrics.jsonl")
        assert [r["env_steps"] for r in m_rows] == [r["env_steps"] for r in s_rows] == [0, 320, 640, 960]
        for key in ("bc_epochs", "bc_val_loss", "disc_loss", "disc_acc_expert", "policy_loss", "value_loss", "train_return"):
            got = [r[key] for r in m_rows if key in r]
            want = [r[key] for r in s_rows if key in r]
            assert len(got) == len(want) > 0, key
            np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4, err_msg=key)
        m_eval, s_eval = read_jsonl(d / "eval.jsonl"), read_jsonl(s / "eval.jsonl")
        np.testing.assert_allclose([r["mean_return"] for r in m_eval], [r["mean_return"] for r in s_eval], rtol=1e-4, atol=1e-3)
        pm, ps = load_policy(d / "policy.msgpack"), load_policy(s / "policy.msgpack")
        obs = np.random.default_rng(seed).normal(size=(16, 3)).astype(np.float32)
        np.testing.assert_allclose(pm(obs), ps(obs), atol=1e-4)
        assert pm.meta["seed"] == seed
    # the two seeds really are different agents
    assert not np.allclose(load_policy(tmp_path / "multi" / "seed-5" / "policy.msgpack")(obs), load_policy(tmp_path / "multi" / "seed-6" / "policy.msgpack")(obs))


def test_interrupted_multi_seed_run_resumes(tmp_path, pendulum_demos, monkeypatch):
    """A K=2 run stopped after its checkpoint continues with --resume: every seed's log has each round once,
    and a resume with another --num-seeds is refused with a clear message."""
    import jirl.loops.ppo as ppo_loop
    from jirl.loops.gail import train

    real_collect, calls = ppo_loop.collect, {"n": 0}

    def collect_then_die(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # the checkpoint after round 2 is on disk
            raise KeyboardInterrupt
        return real_collect(*args, **kwargs)

    cfg = tiny_gail(pendulum_demos, tmp_path / "run", seed=1, num_seeds=2)
    monkeypatch.setattr(ppo_loop, "collect", collect_then_die)
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    monkeypatch.setattr(ppo_loop, "collect", real_collect)
    with pytest.raises(UserError, match="cannot resume"):
        train(dataclasses.replace(cfg, num_seeds=3, resume=True))
    summary = train(dataclasses.replace(cfg, resume=True))
    assert summary["num_seeds"] == 2 and summary["env_steps"] == 960
    for seed in (1, 2):
        rows = read_jsonl(tmp_path / "run" / f"seed-{seed}" / "metrics.jsonl")
        assert [r["env_steps"] for r in rows] == [0, 320, 640, 960]
        assert [r["env_steps"] for r in read_jsonl(tmp_path / "run" / f"seed-{seed}" / "eval.jsonl")] == [0, 640, 960]


def test_vmapped_dac_seeds_match_separate_runs(tmp_path, pendulum_demos):
    """The off-policy driver (SAC with a discriminator reward: DAC-style GAIL) with two vmapped seeds, each with
    its own replay buffer, equals two single-seed runs."""
    from jirl.algorithms.sac import SACConfig
    from jirl.loops.gail import train

    def cfg(run_dir, **kw):
        return tiny_gail(
            pendulum_demos, run_dir, learner="sac", total_steps=600, learning_starts=200, buffer_size=1000, eval_every=300, checkpoint_every=300,
            log_every=100, num_envs=1, sac=SACConfig(hidden=(32, 32), batch_size=64), **kw,
        )

    multi = train(cfg(tmp_path / "multi", seed=3, num_seeds=2))
    singles = [train(cfg(tmp_path / f"single-{s}", seed=s)) for s in (3, 4)]
    assert multi["seeds"] == [3, 4] and multi["env_steps"] == 600
    np.testing.assert_allclose(multi["mean_return_per_seed"], [s["mean_return"] for s in singles], rtol=1e-4, atol=1e-3)
    for seed in (3, 4):
        d, s = tmp_path / "multi" / f"seed-{seed}", tmp_path / f"single-{seed}"
        assert (d / "buffer-600.npz").is_file() and (d / "checkpoint.msgpack").is_file()
        m_rows, s_rows = read_jsonl(d / "metrics.jsonl"), read_jsonl(s / "metrics.jsonl")
        # the first update comes with the first policy step after the 200 random ones: first metrics row at 300
        assert [r["env_steps"] for r in m_rows] == [r["env_steps"] for r in s_rows] == [300, 400, 500, 600]
        for key in ("critic_loss", "actor_loss", "alpha", "disc_loss", "disc_acc_expert", "train_return"):
            got, want = [r[key] for r in m_rows if key in r], [r[key] for r in s_rows if key in r]
            assert len(got) == len(want) > 0, key
            np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4, err_msg=key)
        obs = np.random.default_rng(seed).normal(size=(16, 3)).astype(np.float32)
        np.testing.assert_allclose(load_policy(d / "policy.msgpack")(obs), load_policy(s / "policy.msgpack")(obs), atol=1e-4)


def test_gail_run_is_identical_with_rollout_workers(tmp_path, pendulum_demos):
    """The whole training loop gives the same run whether the rollouts are collected in this process or by 2
    worker processes (each running its envs' whole rollout): equal final policy parameters and training metrics,
    2 seeds x 4 envs (the workers split the seeds' envs 4 / 4)."""
    from jirl.loops.gail import train

    runs = {}
    for workers in (0, 2):
        cfg = tiny_gail(pendulum_demos, tmp_path / f"w{workers}", num_seeds=2, env_workers=workers, eval_every=0, checkpoint_every=0)
        runs[workers] = train(cfg)
    for seed in (0, 1):
        a, b = (load_policy(tmp_path / f"w{w}" / f"seed-{seed}" / "policy.msgpack") for w in (0, 2))
        for x, y in zip(jax_leaves(a.params), jax_leaves(b.params), strict=True):
            np.testing.assert_array_equal(x, y)
        rows = [read_jsonl(tmp_path / f"w{w}" / f"seed-{seed}" / "metrics.jsonl") for w in (0, 2)]
        keys = ("disc_reward_mean", "env_reward_mean", "policy_loss", "value_loss")
        assert [[r.get(k) for k in keys] for r in rows[0]] == [[r.get(k) for k in keys] for r in rows[1]]
        assert any(r.get("disc_reward_mean") is not None for r in rows[0])


def jax_leaves(tree):
    import jax

    return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]
