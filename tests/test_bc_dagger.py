"""Behaviour cloning (losses, recovery of a known linear expert, vmapped seeds = separate runs) and DAgger
(mixture, labels from the expert on the learner's states, aggregation, a tiny end-to-end run)."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jirl.algorithms import bc, dagger
from jirl.nets import TanhGaussianActor, gaussian_log_prob, tanh_log_det_jacobian


def linear_expert_data(n=2048, d=4, a=2, seed=0):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(d, a)) * 0.5
    obs = rng.normal(size=(n, d)).astype(np.float32)
    act = np.tanh(obs @ W).astype(np.float32)  # in (-1, 1): a tanh-linear expert
    return jnp.asarray(obs), jnp.asarray(act), W


def test_tanh_gaussian_nll_is_the_squashed_density():
    actor = TanhGaussianActor((8,), 2)
    params = actor.init(jax.random.PRNGKey(0), jnp.zeros((1, 3)))
    obs, act = jnp.ones(3), jnp.array([0.3, -0.7])
    mean, log_std = actor.apply(params, obs)
    u = jnp.arctanh(act)
    expected = -(gaussian_log_prob(u, mean, log_std) - tanh_log_det_jacobian(u))
    # log(1 - tanh(u)^2) = log(1 - a^2): the change of variables written directly
    direct = -(gaussian_log_prob(u, mean, log_std) - jnp.sum(jnp.log(1 - act**2)))
    got = bc.tanh_gaussian_loss(actor.apply, "nll")(params, obs, act)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    np.testing.assert_allclose(got, direct, rtol=1e-4)
    np.testing.assert_allclose(bc.tanh_gaussian_loss(actor.apply, "mse")(params, obs, act), jnp.sum((jnp.tanh(mean) - act) ** 2), rtol=1e-6)
    # saturated expert actions stay finite
    assert np.isfinite(float(bc.tanh_gaussian_loss(actor.apply, "nll")(params, obs, jnp.array([1.0, -1.0]))))


@pytest.mark.parametrize("kind", ["mse", "nll"])
def test_bc_loss_decreases_and_recovers_linear_expert(kind):
    obs, act, W = linear_expert_data()
    actor = TanhGaussianActor((64, 64), 2)
    params = actor.init(jax.random.PRNGKey(1), obs[:1])
    loss_one = bc.tanh_gaussian_loss(actor.apply, kind)
    cfg = bc.BCConfig(loss=kind, learning_rate=3e-3, max_epochs=150, patience=20, batch_size=128)
    res = jax.jit(lambda p, k: bc.fit(cfg, loss_one, p, obs, act, k))(params, jax.random.PRNGKey(2))
    before = jnp.mean(jax.vmap(loss_one, in_axes=(None, 0, 0))(params, obs, act))
    assert float(res.best_val_loss) < float(before) - (0.3 if kind == "nll" else 0.0)
    # on fresh states the cloned deterministic action matches the expert's
    test_obs = jnp.asarray(np.random.default_rng(9).normal(size=(500, 4)).astype(np.float32))
    pred = jnp.tanh(actor.apply(res.params, test_obs)[0])
    err = float(jnp.sqrt(jnp.mean((pred - jnp.tanh(test_obs @ W)) ** 2)))
    assert err < 0.05, err


def test_cosine_learning_rate_falls_to_zero_at_max_epochs():
    assert bc.learning_rate(bc.BCConfig(learning_rate=1e-3), 10) == 1e-3
    sched = bc.learning_rate(bc.BCConfig(learning_rate=1e-3, lr_schedule="cosine", max_epochs=20), 10)
    np.testing.assert_allclose([sched(0), sched(100), sched(200), sched(250)], [1e-3, 5e-4, 0.0, 0.0], atol=1e-9)
    with pytest.raises(ValueError, match="lr_schedule"):
        bc.learning_rate(bc.BCConfig(lr_schedule="linear"), 10)


def test_cosine_fit_runs_every_epoch_and_recovers_linear_expert():
    obs, act, W = linear_expert_data()
    actor = TanhGaussianActor((64, 64), 2)
    params = actor.init(jax.random.PRNGKey(1), obs[:1])
    loss_one = bc.tanh_gaussian_loss(actor.apply, "mse")
    cfg = bc.BCConfig(learning_rate=3e-3, max_epochs=60, patience=1000, batch_size=128, val_fraction=0.0, lr_schedule="cosine")
    res = jax.jit(lambda p, k: bc.fit(cfg, loss_one, p, obs, act, k))(params, jax.random.PRNGKey(2))
    assert int(res.epochs) == 60
    test_obs = jnp.asarray(np.random.default_rng(9).normal(size=(500, 4)).astype(np.float32))
    pred = jnp.tanh(actor.apply(res.params, test_obs)[0])
    assert float(jnp.sqrt(jnp.mean((pred - jnp.tanh(test_obs @ W)) ** 2))) < 0.05


def test_vmapped_seeds_equal_separate_runs():
    obs, act, _ = linear_expert_data(n=512)
    actor = TanhGaussianActor((16,), 2)
    loss_one = bc.tanh_gaussian_loss(actor.apply, "mse")
    cfg = bc.BCConfig(max_epochs=20, patience=5, batch_size=64)

    def one(seed_key):
        k_init, k_fit = jax.random.split(seed_key)
        return bc.fit(cfg, loss_one, actor.init(k_init, obs[:1]), obs, act, k_fit)

    keys = jax.vmap(jax.random.PRNGKey)(jnp.arange(3))
    together = jax.jit(jax.vmap(one))(keys)
    for i in range(3):
        alone = jax.jit(one)(jax.random.PRNGKey(i))
        assert int(alone.epochs) == int(together.epochs[i])
        for a, b in zip(jax.tree_util.tree_leaves(alone.params), jax.tree_util.tree_leaves(together.params), strict=True):
            np.testing.assert_allclose(a, b[i], rtol=1e-5, atol=1e-6)
    # the seeds really differ (the comparison above is not between copies of one run)
    assert not np.allclose(together.best_val_loss[0], together.best_val_loss[1])


def test_beta_schedule_and_mixture():
    assert dagger.beta_schedule(1, 0.5, 0.5) == 0.5 and dagger.beta_schedule(3, 0.5, 0.5) == 0.125
    with pytest.raises(ValueError):
        dagger.beta_schedule(0, 0.5, 0.5)
    rng = np.random.default_rng(0)
    la, ea = np.zeros((10_000, 2)), np.ones((10_000, 2))
    acts, used = dagger.mixture_actions(la, ea, 0.3, rng)
    assert abs(used.mean() - 0.3) < 0.02
    np.testing.assert_array_equal(acts[used], 1.0)
    np.testing.assert_array_equal(acts[~used], 0.0)


class LineEnv:
    """1-D toy env: the state moves by the action taken; observations are [position, 0]."""

    def __init__(self, n):
        self.pos = np.zeros(n)

    def step(self, action):
        self.pos = self.pos + action[:, 0]

        class R:
            pass

        r = R()
        r.obs = np.stack([self.pos, np.zeros_like(self.pos)], axis=-1).astype(np.float32)
        return r


def test_dagger_round_states_from_learner_labels_from_expert():
    env = LineEnv(2)
    obs = np.zeros((2, 2), np.float32)
    learner = lambda o: np.full((o.shape[0], 1), 0.5, np.float32)  # walks right
    expert = lambda o: np.clip(-o[:, :1], -1, 1).astype(np.float32)  # wants to return to 0
    states, labels, last, share = dagger.collect_round(env, obs, learner, expert, beta=0.0, num_steps=4, rng=np.random.default_rng(0))
    assert share == 0.0
    # states are where the learner took the env: 0, 0.5, 1.0, 1.5 ...
    np.testing.assert_allclose(states[:, :, 0], np.tile([0.0, 0.5, 1.0, 1.5], (2, 1)))
    # ... and each label is the expert's action in that state, not the action the learner took
    np.testing.assert_allclose(labels[:, :, 0], np.tile([0.0, -0.5, -1.0, -1.0], (2, 1)))
    np.testing.assert_allclose(last[:, 0], 2.0)
    data_obs, data_act = np.zeros((2, 3, 2)), np.zeros((2, 3, 1))
    agg_obs, agg_act = dagger.aggregate(data_obs, data_act, states, labels)
    assert agg_obs.shape == (2, 7, 2) and agg_act.shape == (2, 7, 1)
    np.testing.assert_array_equal(agg_act[:, 3:], labels)
    with pytest.raises(ValueError):
        dagger.aggregate(data_obs, data_act, states[:1], labels[:1])


def test_dagger_collection_noise_moves_the_states_not_the_labels():
    env = LineEnv(3)
    learner = lambda o: np.full((o.shape[0], 1), 0.5, np.float32)
    expert = lambda o: np.clip(-o[:, :1], -1, 1).astype(np.float32)
    obs = np.zeros((3, 2), np.float32)
    states, labels, _, _ = dagger.collect_round(env, obs, learner, expert, beta=0.0, num_steps=50, rng=np.random.default_rng(1), noise_std=0.3)
    steps = np.diff(states[:, :, 0], axis=1)  # the executed actions: the learner's 0.5 plus noise, clipped
    assert 0.2 < steps.std() < 0.4 and abs(steps.mean() - 0.5) < 0.1 and steps.max() <= 1.0 + 1e-5
    # every label is still the expert's noise-free action in the state that was visited
    np.testing.assert_allclose(labels[:, :, 0], np.clip(-states[:, :, 0], -1, 1), atol=1e-6)


def test_bc_and_dagger_scripts_tiny(tmp_path, run_script):
    common = ["--num-seeds", "2", "--eval-episodes", "1", "--hidden", "32", "32", "--bc.max-epochs", "5"]
    out = run_script("bc.py", "--num-demos", "1", *common, "--run-dir", tmp_path / "bc")
    assert out.returncode == 0, out.stderr[-2000:]
    s = json.loads(out.stdout.strip().splitlines()[-1])
    assert s["num_seeds"] == 2 and len(s["normalized_per_seed"]) == 2 and s["transitions"] == 1000
    assert (tmp_path / "bc" / "policy-seed1.msgpack").is_file()
    out = run_script("dagger.py", "--num-demos", "1", "--rounds", "2", "--steps-per-round", "100", *common, "--run-dir", tmp_path / "dag")
    assert out.returncode == 0, out.stderr[-2000:]
    s = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(s["score_per_round"]) == 3 and s["transitions"] == 1000 + 2 * 100
    rounds = [json.loads(line) for line in (tmp_path / "dag" / "rounds.jsonl").read_text().splitlines()]
    assert [r["beta"] for r in rounds] == [1.0, 0.5, 0.25]
    # per round and seed: the fit's epochs (5 at most here) and validation loss, and every evaluation episode
    for r in rounds:
        assert len(r["fit_epochs"]) == 2 and all(1 <= e <= 5 for e in r["fit_epochs"]) and len(r["fit_val_loss"]) == 2
        np.testing.assert_allclose(np.mean(r["episode_returns_per_seed"], axis=1), r["returns_per_seed"], atol=0.1)
    config = json.loads((tmp_path / "dag" / "summary.json").read_text())["config"]
    assert config["bc"]["lr_schedule"] == "cosine"  # DAgger's default; bc.py keeps the constant rate
    assert json.loads((tmp_path / "bc" / "summary.json").read_text())["config"]["bc"]["lr_schedule"] == "constant"
    assert (tmp_path / "dag" / "rounds.png").is_file()
    bad = run_script("dagger.py", "--expert", tmp_path / "nope.msgpack", "--num-demos", "1", "--rounds", "1", *common, "--run-dir", tmp_path / "bad")
    assert bad.returncode == 2 and "does not exist" in bad.stderr and "Traceback" not in bad.stderr


def test_dagger_without_per_round_evaluation_scores_only_the_final_round(tmp_path, run_script):
    args = ["--num-demos", "1", "--rounds", "2", "--steps-per-round", "100", "--no-eval-rounds", "--num-seeds", "2"]
    out = run_script("dagger.py", *args, "--eval-episodes", "1", "--hidden", "32", "--bc.max-epochs", "3", "--run-dir", tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    s = json.loads(out.stdout.strip().splitlines()[-1])
    assert s["score_per_round"][:2] == [None, None] and s["score_per_round"][2] == s["normalized_score"]
    last_round = [json.loads(line) for line in (tmp_path / "rounds.jsonl").read_text().splitlines()][-1]
    assert last_round["returns_per_seed"] == s["returns_per_seed"] and len(s["returns_per_seed"]) == 2
    assert not (tmp_path / "rounds.png").exists()  # no per-round curve without per-round scores


def test_dagger_best_val_returns_the_round_with_the_best_validation_score(tmp_path, run_script):
    args = ["--num-demos", "1", "--rounds", "2", "--steps-per-round", "100", "--num-seeds", "2", "--select", "best-val", "--val-episodes", "2"]
    out = run_script("dagger.py", *args, "--eval-episodes", "1", "--hidden", "32", "--bc.max-epochs", "3", "--run-dir", tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    s = json.loads(out.stdout.strip().splitlines()[-1])
    rounds = [json.loads(line) for line in (tmp_path / "rounds.jsonl").read_text().splitlines()]
    val = np.array([r["val_return_per_seed"] for r in rounds])  # [rounds + 1, seeds]
    assert s["select"] == "best-val" and s["selected_round_per_seed"] == np.argmax(val, axis=0).tolist()
    np.testing.assert_allclose(s["selected_val_return_per_seed"], val.max(axis=0))
    # the reported score is the chosen round's policy on the evaluation episodes (not the validation ones)
    for k, r in enumerate(s["selected_round_per_seed"]):
        assert s["returns_per_seed"][k] == pytest.approx(rounds[r]["returns_per_seed"][k], rel=1e-6)
    assert not np.allclose(val[:, 0], [r["returns_per_seed"][0] for r in rounds])  # other episodes than the evaluation's
