"""End-to-end GAIL on a tiny budget, and the clear errors for bad --demos files."""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jirl.algorithms.gail import DiscriminatorConfig
from jirl.algorithms.ppo import PPOConfig
from jirl.loops.gail import GAILTrainConfig, train
from jirl.loops.common import stack_trees, tree_index

ROOT = Path(__file__).resolve().parents[1]


def test_tiny_gail_discriminator_separates_expert_from_policy(pendulum_demos, tmp_path, run_script):
    cfg = GAILTrainConfig(
        env_id="Pendulum-v1", demos=str(pendulum_demos), num_demos=2, total_steps=2048, num_envs=2,
        eval_every=0, eval_episodes=1, checkpoint_every=0, run_dir=str(tmp_path / "run"),
        bc_init=False, critic_warmup_rounds=0, bc_coef=0.0,
        ppo=PPOConfig(num_steps=256, minibatch_size=64, epochs=2),
        disc=DiscriminatorConfig(steps_per_round=30, batch_size=64, learning_rate=1e-3),
    )
    summary = train(cfg)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 4  # 2048 steps / (2 envs x 256 steps)
    acc = [0.5 * (r["disc_acc_expert"] + r["disc_acc_policy"]) for r in rows]
    assert acc[-1] > 0.8, acc  # well above chance
    assert rows[-1]["disc_loss"] < rows[0]["disc_loss"]
    assert summary["env_steps"] == 2048 and summary["num_demos"] == 2
    assert summary["best_eval_env_steps"] == 2048 and (tmp_path / "run" / "policy-best.msgpack").exists()
    assert (tmp_path / "run" / "curve.png").exists() and (tmp_path / "run" / "policy.msgpack").exists()
    assert json.loads((tmp_path / "run" / "config.json").read_text())["disc"]["input_noise"] == 0.2  # the PPO learner's default

    # experiments/gail_probe.py reads the run back: its deterministic return is evaluate.py's on the same
    # episodes, and the discriminator it loads is the trained one (it pays the policy's states < 0.69 = softplus(0)
    # on average, as an accuracy > 0.8 on policy samples implies)
    out = run_script("gail_probe.py", "--run-dir", tmp_path / "run", "--episodes", 2, "--seed", 7, "--watch-obs", 0, "--watch-limit", 2.0)
    assert out.returncode == 0, out.stderr[-2000:]
    probe = json.loads(out.stdout.strip().splitlines()[-1])
    ref = run_script("evaluate.py", "--policy", tmp_path / "run" / "policy.msgpack", "--env", "Pendulum-v1", "--episodes", 2, "--seed", 7)
    assert ref.returncode == 0, ref.stderr[-2000:]
    np.testing.assert_allclose(probe["deterministic"]["mean_return"], json.loads(ref.stdout.strip().splitlines()[-1])["mean_return"], rtol=1e-4)
    for mode in ("deterministic", "stochastic"):
        assert probe[mode]["flipped_episodes"] == 0 and probe[mode]["disc_reward_after_flip"] is None  # |cos| <= 1 < 2
        assert 0.0 < probe[mode]["disc_reward_upright"] < float(np.log(2.0)), probe
    bad = run_script("gail_probe.py", "--run-dir", tmp_path)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "config.json" in bad.stderr


def test_bc_init_starts_from_the_expert_and_warmup_freezes_the_actor(pendulum_demos, tmp_path):
    """With --bc-init the first evaluation (env step 0) is the cloned policy: the constant expert torque is
    reproduced; during the critic warm-up rounds the actor (mean net and log-std) does not move."""
    from jirl.algorithms import ppo
    from jirl.loops.gail import make_bc_init, load_expert
    from jirl.envs.normalize import norm_init

    cfg = GAILTrainConfig(env_id="Pendulum-v1", demos=str(pendulum_demos), num_demos=2, ppo=PPOConfig(hidden=(32, 32), num_steps=256, epochs=2))
    demos = load_expert(cfg, 3, 1)
    state = ppo.init(cfg.ppo, jax.random.PRNGKey(0), 3, 1, 10)
    states, norms, infos = make_bc_init(cfg, jnp.asarray(demos.observations), jnp.asarray(demos.normalized_actions()))(
        stack_trees([state]), stack_trees([norm_init(3)]), [0]
    )
    state, norm, info = tree_index(states, 0), tree_index(norms, 0), infos[0]
    mean, _, _ = ppo.policy_outputs(cfg.ppo, state.params, (jnp.asarray(demos.observations) - norm.mean) / jnp.sqrt(norm.var + 1e-8))
    np.testing.assert_allclose(mean, 0.8, atol=0.05)  # the constant expert action, in [-1, 1] units
    assert info["bc_epochs"] >= 1 and np.isfinite(info["bc_val_loss"])
    np.testing.assert_allclose(norm.mean, demos.observations.mean(0), rtol=1e-3, atol=1e-3)

    run = tmp_path / "run"
    cfg = dataclasses.replace(cfg, total_steps=2048, num_envs=2, eval_every=0, eval_episodes=1, checkpoint_every=0, critic_warmup_rounds=2, bc_coef=0.0, run_dir=str(run))
    train(cfg)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert "bc_epochs" in rows[0]
    updates = [r for r in rows if "policy_loss" in r]
    # warm-up: the actor is untouched, so the ratio is 1 up to float rounding; afterwards the policy moves
    assert all(abs(r["approx_kl"]) < 1e-6 and r["clip_frac"] == 0.0 for r in updates[:2]), updates[:2]
    assert updates[-1]["approx_kl"] > 1e-5
    evals = [json.loads(line) for line in (run / "eval.jsonl").read_text().splitlines()]
    assert evals[0]["env_steps"] == 0


def test_bc_loss_term_is_small_for_the_cloned_policy_and_decays(pendulum_demos):
    from jirl.algorithms import ppo
    from jirl.envs.normalize import norm_init
    from jirl.loops.gail import load_expert, make_bc_init, make_bc_loss

    cfg = GAILTrainConfig(env_id="Pendulum-v1", demos=str(pendulum_demos), num_demos=2, bc_coef=2.0, ppo=PPOConfig(hidden=(32, 32)))
    demos = load_expert(cfg, 3, 1)
    obs, act = jnp.asarray(demos.observations), jnp.asarray(demos.normalized_actions())
    fresh = ppo.init(cfg.ppo, jax.random.PRNGKey(0), 3, 1, 10)
    cloned, norm, _ = make_bc_init(cfg, obs, act)(stack_trees([fresh]), stack_trees([norm_init(3)]), [0])
    cloned, norm = tree_index(cloned, 0), tree_index(norm, 0)
    loss = make_bc_loss(cfg, obs, act)
    k = jax.random.PRNGKey(5)
    fresh_loss, cloned_loss = float(loss(fresh.params, norm, 0.0, k)), float(loss(cloned.params, norm, 0.0, k))
    np.testing.assert_allclose(fresh_loss, 2.0 * 0.8**2, rtol=0.1)  # fresh mean ~0 (output scale 0.01), target 0.8
    assert cloned_loss < 0.01 * fresh_loss
    assert float(loss(fresh.params, norm, 0.5, k)) == pytest.approx(0.5 * fresh_loss, rel=1e-5)
    assert float(loss(fresh.params, norm, 1.0, k)) == 0.0


def _gail_cli(demos_path, cwd, *extra):
    env = dict(os.environ, JIRL_NO_PROGRESS="1")
    return subprocess.run([sys.executable, str(ROOT / "experiments" / "gail.py"), "--demos", str(demos_path), "--total-steps", "512", *extra],
                          capture_output=True, text=True, timeout=300, env=env, cwd=cwd)


def _corrupt(src, dst, **changes):
    with np.load(src, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays.update(changes)
    with open(dst, "wb") as f:
        np.savez(f, **arrays)
    return dst


def test_bad_demos_files_give_one_line_errors(pendulum_demos, tmp_path):
    with np.load(pendulum_demos) as z:
        obs = z["observations"].copy()
    obs[5, 0] = np.nan
    cases = {
        "wrong_env": (pendulum_demos, ["--env-id", "HalfCheetah-v5"], "recorded on Pendulum-v1, not HalfCheetah-v5"),
        "nan": (_corrupt(pendulum_demos, tmp_path / "nan.npz", observations=obs), ["--env-id", "Pendulum-v1"], "non-finite"),
        "shapes": (_corrupt(pendulum_demos, tmp_path / "shape.npz", actions=np.zeros((10, 1), np.float32)), ["--env-id", "Pendulum-v1"], "rows"),
        "truncated": (tmp_path / "cut.npz", ["--env-id", "Pendulum-v1"], "truncated or corrupt"),
        "pickle": (tmp_path / "expert_data.npy", ["--env-id", "Pendulum-v1"], "--import-pickled-npy"),
        "too_many_demos": (pendulum_demos, ["--env-id", "Pendulum-v1", "--num-demos", "10"], "asked for 10"),
        "missing": (tmp_path / "nope.npz", ["--env-id", "Pendulum-v1"], "does not exist"),
    }
    data = Path(pendulum_demos).read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 3])
    np.save(tmp_path / "expert_data.npy", np.array({"states": np.zeros((3, 3)), "actions": np.zeros((3, 1))}, dtype=object), allow_pickle=True)
    for name, (path, args, pattern) in cases.items():
        out = _gail_cli(path, tmp_path, *args)
        assert out.returncode == 2, (name, out.stderr[-1500:])
        assert "Traceback" not in out.stderr, name
        errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and pattern in errors[0], (name, out.stderr[-1500:])
        assert not (tmp_path / "runs").exists(), name  # nothing half-written


def test_tiny_dac_discriminator_learns_and_checkpoints_it(pendulum_demos, tmp_path):
    from jirl.algorithms.sac import SACConfig

    cfg = GAILTrainConfig(
        env_id="Pendulum-v1", learner="sac", demos=str(pendulum_demos), num_demos=2, total_steps=800,
        learning_starts=200, buffer_size=2000, log_every=200, eval_every=0, eval_episodes=1, checkpoint_every=0,
        run_dir=str(tmp_path / "run"), sac=SACConfig(hidden=(32, 32), batch_size=64),
        disc=DiscriminatorConfig(steps_per_round=2, batch_size=64, learning_rate=1e-3),
    )
    summary = train(cfg)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    last = rows[-1]
    assert 0.5 * (last["disc_acc_expert"] + last["disc_acc_policy"]) > 0.8, last
    assert last["disc_grad_penalty"] > 0.0  # gradient penalty on by default with the SAC learner
    assert summary["env_steps"] == 800
    # config.json records the GAIL side too (discriminator with its resolved defaults, demonstrations)
    recorded = json.loads((tmp_path / "run" / "config.json").read_text())["imitation"]
    assert recorded["learner"] == "sac" and recorded["num_demos"] == 2 and recorded["disc"]["input_noise"] == 0.0
    # the discriminator is part of the checkpoint: its params and Adam moments come on top of SAC's leaves
    import jax
    from flax import serialization

    from jirl.algorithms import gail as gail_alg
    from jirl.algorithms import sac as sac_alg

    stored = serialization.msgpack_restore((tmp_path / "run" / "checkpoint.msgpack").read_bytes())
    n_sac = len(jax.tree_util.tree_leaves(sac_alg.init(cfg.sac, jax.random.PRNGKey(0), 3, 1)))
    n_disc = len(jax.tree_util.tree_leaves(gail_alg.init(cfg.disc, jax.random.PRNGKey(0), 4)))
    assert len(stored["leaves"]) == n_sac + n_disc + 3 + 1  # + the observation normalizer and the PRNG key
