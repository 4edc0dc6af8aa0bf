"""AIRL: the discriminator's exact form, its learning signal, the learned-reward file, and a tiny end-to-end
run with reward transfer (Pendulum, so it stays fast)."""

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jirl.algorithms import airl, ppo
from jirl.algorithms.gail import classification_loss
from jirl.envs.normalize import norm_apply, norm_init, norm_update
from jirl.loops import airl as airl_loop
from jirl.nets import gaussian_log_prob


def random_batch(key, b=16, d=5, a=2):
    ks = jax.random.split(key, 5)
    return airl.Transitions(
        obs=jax.random.normal(ks[0], (b, d)),
        action=jax.random.uniform(ks[1], (b, a), minval=-1, maxval=1),
        next_obs=jax.random.normal(ks[2], (b, d)),
        terminated=jax.random.bernoulli(ks[3], 0.3, (b,)),
        log_pi=jax.random.normal(ks[4], (b,)),
    )


def test_discriminator_is_exp_f_over_exp_f_plus_pi():
    cfg = airl.AIRLConfig(reward_hidden=(8,), shaping_hidden=(8,), gamma=0.9, reward="airl", grad_penalty=0.0, input_noise=0.0)
    state = airl.init(cfg, jax.random.PRNGKey(0), 5, 2)
    batch = random_batch(jax.random.PRNGKey(1))
    g_net, h_net = airl._nets(cfg)
    g = g_net.apply(state.params["g"], batch.obs)
    h, h_next = h_net.apply(state.params["h"], batch.obs), h_net.apply(state.params["h"], batch.next_obs)
    f = g + 0.9 * (1.0 - batch.terminated) * h_next - h  # a termination cuts h(s')
    np.testing.assert_allclose(airl.shaped_reward(cfg, state.params, batch), f, atol=1e-6)
    pi = jnp.exp(batch.log_pi)
    d = jnp.exp(f) / (jnp.exp(f) + pi)
    np.testing.assert_allclose(jax.nn.sigmoid(airl.logits(cfg, state.params, batch)), d, atol=1e-6)
    # the paper's generator reward log D - log(1 - D) = f - log pi; 'f' drops the entropy term
    np.testing.assert_allclose(airl.generator_reward(cfg, state.params, batch), jnp.log(d) - jnp.log1p(-d), atol=1e-4)
    f_only = airl.generator_reward(airl.AIRLConfig(reward_hidden=(8,), shaping_hidden=(8,), gamma=0.9, reward="f"), state.params, batch)
    np.testing.assert_allclose(f_only, f, atol=1e-6)
    # loss = BCE with expert label 1, policy label 0, on those logits
    other = random_batch(jax.random.PRNGKey(2))
    bce, _ = airl.loss(cfg, state.params, batch, other)
    ref, _ = classification_loss(airl.logits(cfg, state.params, batch), airl.logits(cfg, state.params, other))
    np.testing.assert_allclose(bce, ref, atol=1e-6)
    assert float(bce) == pytest.approx(
        float(-jnp.mean(jnp.log(d)) - jnp.mean(jnp.log1p(-jax.nn.sigmoid(airl.logits(cfg, state.params, other))))), abs=1e-4
    )


def test_gradient_penalty_and_input_noise_act_on_f_inputs():
    """The penalty is GAIL's (||grad f(x_hat)|| - 1)^2 with f a function of (s, s') at expert/policy
    interpolates (the same uniform draw as gail.gradient_penalty), blind to the action and to log pi; input
    noise perturbs s and s' only."""
    cfg = airl.AIRLConfig(reward_hidden=(8,), shaping_hidden=(8,), gamma=0.9, grad_penalty=10.0, input_noise=0.0)
    params = airl.init(cfg, jax.random.PRNGKey(0), 5, 2).params
    expert = random_batch(jax.random.PRNGKey(1)).replace(terminated=jnp.zeros(16, bool))
    policy = random_batch(jax.random.PRNGKey(2)).replace(terminated=jnp.zeros(16, bool))
    key = jax.random.PRNGKey(3)
    gp = airl._f_penalty(cfg, params, expert, policy, key)
    eps = jax.random.uniform(key, (16, 1))
    mix = lambda a, b: eps * a + (1 - eps) * b
    s_hat, s2_hat = mix(expert.obs, policy.obs), mix(expert.next_obs, policy.next_obs)

    def f_one(s, s2):
        one = airl.Transitions(obs=s[None], action=jnp.zeros((1, 2)), next_obs=s2[None], terminated=jnp.zeros(1, bool), log_pi=jnp.zeros(1))
        return airl.shaped_reward(cfg, params, one)[0]

    gs, gs2 = jax.vmap(jax.grad(f_one, argnums=(0, 1)))(s_hat, s2_hat)
    manual = jnp.mean((jnp.sqrt(jnp.sum(gs**2, -1) + jnp.sum(gs2**2, -1) + 1e-12) - 1.0) ** 2)
    np.testing.assert_allclose(gp, manual, rtol=1e-5)
    # neither the actions nor log pi move the penalty of a state-only f
    other = airl._f_penalty(cfg, params, expert.replace(action=-expert.action, log_pi=expert.log_pi + 3), policy, key)
    np.testing.assert_allclose(other, gp, rtol=1e-6)
    total, metrics = airl.loss(cfg, params, expert, policy, key)
    assert float(metrics["disc_grad_penalty"]) > 0 and float(total) == pytest.approx(float(metrics["disc_loss"]) + 10 * float(metrics["disc_grad_penalty"]), rel=1e-5)
    noisy = airl._with_noise(dataclasses.replace(cfg, input_noise=0.5), expert, key)
    np.testing.assert_array_equal(noisy.action, expert.action)
    np.testing.assert_array_equal(noisy.log_pi, expert.log_pi)
    assert 0.3 < float(jnp.std(noisy.obs - expert.obs)) < 0.7 and 0.3 < float(jnp.std(noisy.next_obs - expert.next_obs)) < 0.7
    # a state-action g also sees noisy actions
    noisy_sa = airl._with_noise(airl.AIRLConfig(state_only=False, input_noise=0.5), expert, key)
    assert float(jnp.std(noisy_sa.action - expert.action)) > 0.3


def test_state_action_reward_needs_the_action():
    cfg = airl.AIRLConfig(reward_hidden=(8,), shaping_hidden=(8,), state_only=False)
    state = airl.init(cfg, jax.random.PRNGKey(0), 5, 2)
    batch = random_batch(jax.random.PRNGKey(1))
    assert airl.reward(cfg, state.params, batch.obs, batch.action).shape == (16,)
    with pytest.raises(ValueError, match="needs the action"):
        airl.reward(cfg, state.params, batch.obs)


def test_log_pi_is_the_ppo_gaussian_density():
    pcfg = ppo.PPOConfig(hidden=(16,))
    params = ppo.init(pcfg, jax.random.PRNGKey(0), 4, 2, 10).params
    obs, act = jax.random.normal(jax.random.PRNGKey(1), (7, 4)), jax.random.normal(jax.random.PRNGKey(2), (7, 2))
    mean, log_std, _ = ppo.policy_outputs(pcfg, params, obs)
    std = jnp.exp(log_std)
    manual = jnp.sum(-0.5 * ((act - mean) / std) ** 2 - log_std - 0.5 * jnp.log(2 * jnp.pi), axis=-1)
    np.testing.assert_allclose(airl_loop.log_pi_fn(pcfg)(params, obs, act), manual, atol=1e-5)
    np.testing.assert_allclose(manual, gaussian_log_prob(act, mean, log_std), atol=1e-5)


def test_discriminator_learns_and_g_ranks_expert_states_higher():
    """Expert states sit around +1 in the first coordinate, policy states around -1; after training the
    discriminator separates them and the learned reward g is higher on expert states."""
    cfg = airl.AIRLConfig(reward_hidden=(32,), shaping_hidden=(32,), learning_rate=3e-3, batch_size=128, grad_penalty=0.0, input_noise=0.0)
    k = jax.random.split(jax.random.PRNGKey(3), 4)

    def batch(key, centre, n=1024):
        b = random_batch(key, n, 4, 2)
        shift = jnp.zeros(4).at[0].set(centre)
        return b.replace(obs=b.obs * 0.3 + shift, next_obs=b.next_obs * 0.3 + shift, log_pi=jnp.full((n,), -1.0), terminated=jnp.zeros(n, bool))

    expert, policy = batch(k[0], 1.0), batch(k[1], -1.0)
    state = airl.init(cfg, k[2], 4, 2)
    _, before = airl.loss(cfg, state.params, expert, policy)
    state, metrics = airl.train_steps(cfg, state, expert, policy, k[3], 200)
    _, after = airl.loss(cfg, state.params, expert, policy)
    assert float(after["disc_acc_expert"]) > 0.95 and float(after["disc_acc_policy"]) > 0.95
    assert float(after["disc_loss"]) < 0.5 * float(before["disc_loss"])
    g_e = airl.reward(cfg, state.params, expert.obs)
    g_p = airl.reward(cfg, state.params, policy.obs)
    assert float(g_e.mean() - g_p.mean()) > 1.0


def test_reward_file_roundtrip(tmp_path):
    cfg = airl.AIRLConfig(reward_hidden=(8,), shaping_hidden=(8,))
    state = airl.init(cfg, jax.random.PRNGKey(0), 3, 1)
    obs = jax.random.normal(jax.random.PRNGKey(1), (50, 3)) * 2 + 1
    norm = norm_update(norm_init(3), obs)
    act = jnp.zeros((50, 1))
    scale = airl_loop.save_reward(tmp_path / "r.msgpack", cfg, state.params, norm, obs, act, {"env_id": "x"})
    tree, meta = airl_loop.load_reward(tmp_path / "r.msgpack", cfg, 3, 1, True)
    assert meta["reward_mean"] == pytest.approx(scale["reward_mean"]) and meta["env_id"] == "x"
    for a, b in zip(jax.tree_util.tree_leaves((state.params["g"], state.params["h"], norm)), jax.tree_util.tree_leaves(tree), strict=True):
        np.testing.assert_array_equal(a, b)
    # a file without h (older jirl) still loads, with h = None
    from jirl.loops.common import pytree_to_bytes

    (tmp_path / "old.msgpack").write_bytes(pytree_to_bytes({"g": state.params["g"], "norm": norm}, {"reward_mean": 0.0, "reward_std": 1.0}))
    old, _ = airl_loop.load_reward(tmp_path / "old.msgpack", cfg, 3, 1, True)
    assert old["h"] is None
    (tmp_path / "bad.msgpack").write_bytes(b"not msgpack")
    with pytest.raises(Exception, match="cannot read the learned reward"):
        airl_loop.load_reward(tmp_path / "bad.msgpack", cfg, 3, 1, True)


def test_tiny_airl_run_with_transfer_and_clear_errors(pendulum_demos, tmp_path, run_script):
    common = [
        "--env-id",
        "Pendulum-v1",
        "--demos",
        str(pendulum_demos),
        "--num-demos",
        "2",
        "--num-envs",
        "2",
        "--ppo.num-steps",
        "256",
        "--ppo.minibatch-size",
        "64",
        "--ppo.epochs",
        "2",
        "--ppo.hidden",
        "32",
        "32",
        "--eval-episodes",
        "1",
        "--checkpoint-every",
        "0",
        "--no-bc-init",
        "--critic-warmup-rounds",
        "0",
        "--bc-coef",
        "0",
        "--disc.steps-per-round",
        "30",
        "--disc.batch-size",
        "64",
        # the paper's plain form (MLP g, no penalty, no noise, reward f - log pi); the batch test below runs the
        # defaults (linear g)
        "--disc.reward-hidden",
        "64",
        "64",
        "--disc.grad-penalty",
        "0",
        "--disc.input-noise",
        "0",
        "--disc.reward",
        "airl",
    ]
    run_dir = tmp_path / "run"
    stage1 = ["--total-steps", "2048", "--eval-every", "0", "--run-dir", run_dir]
    out = run_script("airl.py", *common, *stage1, "--transfer-steps", "600", "--learning-starts", "300", "--sac.hidden", "32", "32", timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["env_steps"] == 2048 and summary["transfer_env_steps"] == 600
    assert (run_dir / "reward.msgpack").is_file() and (run_dir / "transfer" / "policy.msgpack").is_file()
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if "disc_acc_expert" in r]
    acc = [0.5 * (r["disc_acc_expert"] + r["disc_acc_policy"]) for r in rows]
    assert acc[-1] > 0.8, acc  # the AIRL discriminator separates the constant-torque expert from the policy
    # resume after both stages are done: the AIRL stage is not rerun
    again = run_script("airl.py", *common, *stage1, "--transfer-steps", "0", "--resume")
    assert again.returncode == 0 and "AIRL stage of" in again.stdout, again.stderr[-2000:]
    # --reward-from: only the transfer, on the reward stage 1 left in run_dir (as the shipped rewards are used)
    transfer = ["--transfer-steps", "400", "--learning-starts", "200", "--sac.hidden", "32", "32", "--eval-every", "0"]
    only = run_script("airl.py", *common, *transfer, "--reward-from", run_dir, "--run-dir", tmp_path / "only", timeout=600)
    assert only.returncode == 0, only.stderr[-3000:]
    s_only = json.loads(only.stdout.strip().splitlines()[-1])
    assert s_only["reward_from"] == str(run_dir) and s_only["stage1"]["env_steps"] == 2048 and s_only["transfer_env_steps"] == 400
    assert "env_steps" not in s_only and (tmp_path / "only" / "transfer" / "policy.msgpack").is_file()
    assert not (tmp_path / "only" / "reward.msgpack").exists()  # no AIRL stage ran there
    for bad, msg in (
        (["--reward-from", tmp_path / "nowhere"], "no learned reward for seed 0"),
        (["--reward-from", run_dir, "--seed", "5"], "with seed 0, not Pendulum-v1 with seed 5"),
        (["--reward-from", run_dir, "--transfer-steps", "0"], "--reward-from runs only the reward transfer"),
    ):
        res = run_script("airl.py", *common, *transfer, *bad, "--run-dir", tmp_path / "bad-transfer", timeout=300)
        assert res.returncode == 2 and msg in res.stderr and "Traceback" not in res.stderr, res.stderr[-2000:]
    bad_args = (
        (["--learner", "sac"], "SAC already adds its own entropy term"),  # common has --disc.reward airl
        (["--disc.gamma", "0.9"], "must equal --ppo.gamma"),
        (["--disc.input-noise", "-1"], "--disc.input-noise must be >= 0"),
    )
    for bad, msg in bad_args:
        res = run_script("airl.py", *common, *bad, "--run-dir", tmp_path / "bad", timeout=300)
        assert res.returncode == 2 and msg in res.stderr and "Traceback" not in res.stderr, res.stderr[-2000:]


def test_airl_seeds_as_a_batch_with_per_seed_transfer(pendulum_demos, tmp_path, run_script):
    """--num-seeds 2: both seeds' rewards are learned in one run, and the transfer trains one SAC agent per seed
    (seed S + 100) on that seed's own g."""
    run_dir = tmp_path / "run"
    args = ["--env-id", "Pendulum-v1", "--demos", str(pendulum_demos), "--num-demos", "2", "--num-envs", "2", "--num-seeds", "2"]
    args += ["--ppo.num-steps", "256", "--ppo.minibatch-size", "128", "--ppo.epochs", "1", "--ppo.hidden", "16", "16", "--eval-episodes", "1"]
    args += ["--checkpoint-every", "0", "--no-bc-init", "--critic-warmup-rounds", "0", "--bc-coef", "0", "--disc.steps-per-round", "5"]
    args += ["--total-steps", "1024", "--eval-every", "0", "--run-dir", str(run_dir)]
    out = run_script("airl.py", *args, "--transfer-steps", "400", "--learning-starts", "200", "--sac.hidden", "16", "16", timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["seeds"] == [0, 1] and len(summary["normalized_score_per_seed"]) == 2
    assert len(summary["transfer_mean_return_per_seed"]) == 2 and summary["transfer_env_steps"] == 400
    rewards = [airl_loop.load_reward(run_dir / f"seed-{s}" / "reward.msgpack", airl.AIRLConfig(), 3, 1, True) for s in (0, 1)]
    assert [meta["seed"] for _, meta in rewards] == [0, 1]
    assert not np.allclose(rewards[0][1]["reward_mean"], rewards[1][1]["reward_mean"])  # two different learned rewards
    for s in (100, 101):
        assert (run_dir / "transfer" / f"seed-{s}" / "policy.msgpack").is_file()
    # the reward probe reads a seed's folder; on the demonstrations that set the standardization, g is (0, 1)
    probe = run_script("airl_probe.py", "--run-dir", run_dir / "seed-1", "--episodes", "1", "--demo-episodes", "2", "--velocity-obs", "2", "--velocities", "-1", "1")
    assert probe.returncode == 0, probe.stderr[-2000:]
    report = json.loads(probe.stdout.strip().splitlines()[-1])
    assert report["expert"]["mean_g"] == pytest.approx(0.0, abs=1e-3) and report["expert"]["std_g"] == pytest.approx(1.0, abs=1e-3)
    assert set(report["velocity_sweep"]) == {"-1.0", "1.0"} and np.isfinite(report["random_actions"]["mean_g"])
    bad = run_script("airl_probe.py", "--run-dir", run_dir)  # the multi-seed parent holds no reward
    assert bad.returncode == 2 and "no reward.msgpack" in bad.stderr and "Traceback" not in bad.stderr
    # the transfer reward: standardized g, plus (--transfer-reward f) the shaping gamma h(s') - h(s) on that scale
    from jirl.buffers import Transition

    k = jax.random.split(jax.random.PRNGKey(7), 3)
    batch = Transition(
        obs=jax.random.normal(k[0], (32, 3)), action=jnp.zeros((32, 1)), reward=jnp.zeros(32), next_obs=jax.random.normal(k[1], (32, 3)), terminated=jnp.zeros(32)
    )
    for_g = airl_loop.AIRLTrainConfig(env_id="Pendulum-v1", seed=0, num_seeds=2)
    for_f = dataclasses.replace(for_g, transfer_reward="f")
    aux_f = airl_loop.transfer_aux(for_f, run_dir, 3, 1)(101)
    r_g = airl_loop.transfer_reward_fn(for_g)({k: v for k, v in aux_f.items() if k != "h"}, None, batch)
    r_f = airl_loop.transfer_reward_fn(for_f)(aux_f, None, batch)
    h_net = airl._nets(for_f.disc)[1]
    norm_obs = lambda o: norm_apply(aux_f["norm"], o)
    shaping = 0.99 * h_net.apply(aux_f["h"], norm_obs(batch.next_obs)) - h_net.apply(aux_f["h"], norm_obs(batch.obs))
    np.testing.assert_allclose(r_f - r_g, shaping / aux_f["std"], rtol=1e-4, atol=1e-5)
    # agent 100 + k is trained on the reward of seed k
    cfg = airl_loop.AIRLTrainConfig(env_id="Pendulum-v1", seed=0, num_seeds=2)
    make_aux = airl_loop.transfer_aux(cfg, run_dir, 3, 1)
    for k in (0, 1):
        aux = make_aux(100 + k)
        assert float(aux["mean"]) == pytest.approx(rewards[k][1]["reward_mean"]) and float(aux["std"]) == pytest.approx(rewards[k][1]["reward_std"])
        for a, b in zip(jax.tree_util.tree_leaves(aux["g"]), jax.tree_util.tree_leaves(rewards[k][0]["g"]), strict=True):
            np.testing.assert_array_equal(a, b)


def test_tiny_airl_with_a_sac_generator(pendulum_demos, tmp_path, run_script):
    """--learner sac: the discriminator trains on replayed transitions with log pi from the SAC actor, the
    learned reward is saved, and config.json records the AIRL settings."""
    run_dir = tmp_path / "sac"
    args = ["--env-id", "Pendulum-v1", "--demos", str(pendulum_demos), "--num-demos", "2", "--learner", "sac", "--total-steps", "800"]
    args += ["--learning-starts", "200", "--sac.hidden", "16", "16", "--eval-episodes", "1", "--eval-every", "0", "--checkpoint-every", "0"]
    args += ["--log-every", "200", "--disc.steps-per-round", "4", "--disc.batch-size", "64", "--transfer-steps", "0", "--run-dir", str(run_dir)]
    out = run_script("airl.py", *args, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["env_steps"] == 800 and (run_dir / "reward.msgpack").is_file() and summary["reward_file"].endswith("reward.msgpack")
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    acc = [0.5 * (r["disc_acc_expert"] + r["disc_acc_policy"]) for r in rows if "disc_acc_expert" in r]
    assert len(acc) >= 2 and acc[-1] > 0.7, acc  # the constant-torque expert is told apart from the SAC agent
    config = json.loads((run_dir / "config.json").read_text())
    assert config["imitation"]["learner"] == "sac" and config["imitation"]["disc"]["steps_per_round"] == 4
    assert config["imitation"]["disc"]["reward"] == "f" and config["imitation"]["num_demos"] == 2


def test_sac_log_prob_of_given_actions_matches_sampling():
    """sac.log_prob(a) equals the density sample_tanh_gaussian reports for the same a (away from the bounds)."""
    from jirl.algorithms import sac
    from jirl.nets import TanhGaussianActor, sample_tanh_gaussian

    scfg = sac.SACConfig(hidden=(16,))
    params = sac.init(scfg, jax.random.PRNGKey(0), 3, 2).actor_params
    obs = jax.random.normal(jax.random.PRNGKey(1), (64, 3))
    mean, log_std = TanhGaussianActor((16,), 2).apply(params, obs)
    action, log_prob = sample_tanh_gaussian(jax.random.PRNGKey(2), mean, log_std)
    inside = np.all(np.abs(np.asarray(action)) < 0.999, axis=-1)
    np.testing.assert_allclose(np.asarray(sac.log_prob(scfg, params, obs, action))[inside], np.asarray(log_prob)[inside], rtol=1e-3, atol=1e-3)
    # an action on the bound gets a finite (clipped) density rather than -inf or nan
    assert np.all(np.isfinite(np.asarray(sac.log_prob(scfg, params, obs, jnp.ones((64, 2))))))


def test_shipped_airl_rewards_load_for_their_seeds():
    """The learned HalfCheetah rewards shipped for --reward-from: one file per seed 0-2, each readable with the
    default AIRL config and labelled with its env and seed (so a transfer agent gets the right one)."""
    from pathlib import Path

    import jirl
    from jirl.loops.airl import AIRLTrainConfig, check_reward_dir, stage1_dirs

    shipped = Path(jirl.__file__).parent / "experts" / "HalfCheetah-v5" / "airl-rewards"
    cfg = AIRLTrainConfig(num_seeds=3)
    check_reward_dir(cfg, shipped)  # raises a UserError on a missing file or a wrong env / seed label
    for seed, d in stage1_dirs(cfg, shipped).items():
        tree, meta = airl_loop.load_reward(d / "reward.msgpack", cfg.disc, 17, 6, True)
        assert meta["seed"] == seed and meta["env_id"] == "HalfCheetah-v5" and meta["reward_std"] > 0
        assert tree["h"] is not None and np.all(np.isfinite(np.asarray(jax.tree_util.tree_leaves(tree["g"])[0])))
    stage1 = json.loads((shipped / "airl-summary.json").read_text())
    assert stage1["seeds"] == [0, 1, 2] and min(stage1["normalized_score_per_seed"]) > 0.9


def test_probe_reads_a_shipped_reward_folder_without_config(run_script):
    """airl_probe.py takes its env and discriminator config from the reward file when the folder (a shipped
    one) has no config.json; the shipped seed-0 g ranks the expert's states above resting ones and rises
    with forward velocity."""
    from pathlib import Path

    import jirl

    shipped = Path(jirl.__file__).parent / "experts" / "HalfCheetah-v5" / "airl-rewards" / "seed-0"
    assert not (shipped / "config.json").exists()
    res = run_script("airl_probe.py", "--run-dir", shipped, "--episodes", "1", "--demo-episodes", "1", "--velocities", "0", "8")
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["env_id"] == "HalfCheetah-v5" and out["expert"]["mean_g"] > out["zero_actions"]["mean_g"] + 1.0
    assert out["expert"]["corr_g_velocity"] > 0.5 and out["velocity_sweep"]["8.0"] > out["velocity_sweep"]["0.0"]
