"""Checkpoints, resume of a killed run, and the scripts' behaviour on user mistakes."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from jirl.algorithms import sac
from jirl.loops.common import NonFiniteLossError, check_finite, load_checkpoint, meta_from_bytes, save_checkpoint

ROOT = Path(__file__).resolve().parents[1]
TINY = [
    "--sac.hidden",
    "32",
    "32",
    "--sac.batch-size",
    "32",
    "--learning-starts",
    "200",
    "--buffer-size",
    "5000",
    "--eval-episodes",
    "1",
    "--eval-every",
    "0",
    "--log-every",
    "100",
]


def test_checkpoint_round_trip(tmp_path):
    state = sac.init(sac.SACConfig(hidden=(8,)), jax.random.PRNGKey(0), 3, 2)
    tree = {"sac": state, "key": jax.random.PRNGKey(5), "norm": None}
    save_checkpoint(tmp_path, tree, {"step": 7})
    template = {"sac": sac.init(sac.SACConfig(hidden=(8,)), jax.random.PRNGKey(1), 3, 2), "key": jax.random.PRNGKey(0), "norm": None}
    back, meta = load_checkpoint(tmp_path, template)
    assert meta == {"step": 7}
    for a, b in zip(jax.tree_util.tree_leaves(tree), jax.tree_util.tree_leaves(back), strict=False):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        assert np.asarray(a).dtype == np.asarray(b).dtype
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.msgpack"]  # no temp files left
    wrong = {"sac": sac.init(sac.SACConfig(hidden=(16,)), jax.random.PRNGKey(1), 3, 2), "key": jax.random.PRNGKey(0), "norm": None}
    with pytest.raises(ValueError, match="different config"):
        load_checkpoint(tmp_path, wrong)


def test_non_finite_metrics_stop_with_clear_message(tmp_path):
    check_finite({"critic_loss": 1.0}, 10, tmp_path)
    with pytest.raises(NonFiniteLossError, match="non-finite critic_loss at env step 10.*last good checkpoint"):
        check_finite({"critic_loss": float("nan"), "actor_loss": 0.0}, 10, tmp_path)


def test_terminated_sac_run_stops_cleanly_and_resumes(tmp_path, run_script):
    """``kill`` (SIGTERM, what a cluster sends before pre-empting a job) ends the run with exit status 143 and one
    ``error:`` line, no traceback; ``--resume`` then continues from the last checkpoint (here to 400 steps past
    it: the first run is long, so the signal never races its end)."""
    run_dir = tmp_path / "run"
    args = [*TINY, "--env-id", "Pendulum-v1", "--checkpoint-every", "400", "--run-dir", str(run_dir)]
    env = dict(os.environ, JIRL_NO_PROGRESS="1")
    cmd = [sys.executable, str(ROOT / "experiments" / "sac.py"), *args, "--total-steps", "1000000"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ckpt = run_dir / "checkpoint.msgpack"
    deadline = time.time() + 240
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert ckpt.exists(), proc.communicate()[1][-2000:].decode() if proc.poll() is not None else "no checkpoint in time"
    proc.send_signal(signal.SIGTERM)
    err = proc.communicate(timeout=120)[1].decode()
    assert proc.returncode == 143, err[-2000:]
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("error: terminated (SIGTERM); the last checkpoint (if any) is kept")
    at = meta_from_bytes(ckpt.read_bytes())["step"]
    assert at >= 400 and at % 400 == 0
    end = at + 400

    out = run_script("sac.py", *args, "--total-steps", str(end), "--resume")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "resumed" in out.stdout
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["env_steps"] == end
    assert (run_dir / "policy.msgpack").exists() and (run_dir / "curve.png").exists()
    steps = [json.loads(line)["env_steps"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(steps) and len(steps) == len(set(steps)) and steps[-1] == end  # records after the checkpoint dropped
    assert len(list(run_dir.glob("buffer-*.npz"))) == 1 and not list(run_dir.glob(".*.tmp*"))

    # the final policy evaluates through the evaluate script
    ev = run_script("evaluate.py", "--policy", str(run_dir / "policy.msgpack"), "--env", "Pendulum-v1", "--episodes", "2")
    assert ev.returncode == 0, ev.stderr
    result = json.loads(ev.stdout.strip().splitlines()[-1])
    assert result["episodes"] == 2 and np.isfinite(result["mean_return"])


@pytest.mark.parametrize(
    "script,args,pattern",
    [
        ("sac.py", ["--resume", "--run-dir", "{tmp}/none"], "no checkpoint"),
        ("sac.py", ["--env-id", "CartPole-v1", "--run-dir", "{tmp}/cp"], "needs a Box"),
        ("sac.py", ["--total-steps", "0", "--run-dir", "{tmp}/z"], "--total-steps must be >= 1"),
        ("ppo.py", ["--num-envs", "2", "--env-workers", "3", "--run-dir", "{tmp}/w"], "--env-workers must be between 0 and num_envs"),
        ("evaluate.py", ["--policy", "{tmp}/missing.msgpack"], "does not exist"),
        ("evaluate.py", ["--policy", "{tmp}/garbage.msgpack"], "not a jirl policy file"),
        ("evaluate.py", ["--policy", "random", "--env", "NoSuchEnv-v0"], "cannot make Gymnasium env"),
        ("collect.py", ["--policy", "random", "--out", "{tmp}/x.txt"], "must end with .npz"),
        ("collect.py", ["--policy", "random", "--out", "{tmp}/exists.npz"], "exists; pass --overwrite"),
        ("compare.py", ["--num-demos", "0", "--out-dir", "{tmp}/c"], "--num-demos needs one or more counts >= 1"),
        ("evaluate.py", ["--policy", "random", "--env", "Pendulum-v1", "--watch-obs", "3"], "--watch-obs must be an observation index"),
        ("compare.py", ["--env-id", "Hopper-v5", "--out-dir", "{tmp}/c"], "no expert/random reference returns"),
        # algorithm settings out of range: checked before anything is written (a zero minibatch once divided by zero)
        ("ppo.py", ["--ppo.num-steps", "0", "--run-dir", "{tmp}/r"], "--ppo.num-steps must be >= 1, got 0"),
        ("sac.py", ["--sac.gamma", "1.5", "--run-dir", "{tmp}/r"], "--sac.gamma must be in (0, 1], got 1.5"),
        ("gail.py", ["--disc.batch-size", "0", "--run-dir", "{tmp}/r"], "--disc.batch-size must be >= 1, got 0"),
        ("bc.py", ["--bc.batch-size", "0", "--run-dir", "{tmp}/r"], "--bc.batch-size must be >= 1, got 0"),
        ("seqgan.py", ["--model.batch-size", "0", "--run-dir", "{tmp}/r"], "--model.batch-size must be >= 1, got 0"),
    ],
)
def test_user_mistakes_give_one_line_and_exit_2(tmp_path, run_script, script, args, pattern):
    (tmp_path / "garbage.msgpack").write_bytes(b"\x00\x01garbage")
    (tmp_path / "exists.npz").write_bytes(b"keep me")
    out = run_script(script, *[a.format(tmp=tmp_path) for a in args])
    assert out.returncode == 2, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    err_lines = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(err_lines) == 1 and pattern in err_lines[0], out.stderr
    assert (tmp_path / "exists.npz").read_bytes() == b"keep me"  # nothing lost
    assert not (tmp_path / "r").exists()  # no run folder for a rejected run


def test_check_ranges_names_the_flag_and_rejects_nan():
    from jirl.algorithms import ppo
    from jirl.loops.common import UserError, check_ranges
    from jirl.loops.ppo import PPO_RANGES
    from jirl.loops.sac import SAC_RANGES

    check_ranges("ppo", ppo.PPOConfig(), PPO_RANGES)  # the defaults pass
    check_ranges("ppo", ppo.PPOConfig(gamma=1.0, gae_lambda=0.0, vf_coef=0.0, hidden=()), PPO_RANGES)  # the closed ends pass
    for bad, message in [
        (dict(minibatch_size=0), "--ppo.minibatch-size must be >= 1, got 0"),
        (dict(gamma=float("nan")), "--ppo.gamma must be in (0, 1], got nan"),
        (dict(gae_lambda=1.01), "--ppo.gae-lambda must be in [0, 1], got 1.01"),
        (dict(hidden=(64, 0)), "--ppo.hidden must be layer widths >= 1, got 64 0"),
    ]:
        with pytest.raises(UserError) as e:
            check_ranges("ppo", ppo.PPOConfig(**bad), PPO_RANGES)
        assert str(e.value) == message
    assert set(SAC_RANGES) <= {f.name for f in dataclasses.fields(sac.SACConfig)}


def test_best_policy_is_kept_and_reevaluated_on_fresh_episodes(tmp_path):
    """policy-best.msgpack follows the best evaluation only; a resume drops a file newer than the checkpoint;
    the report re-evaluates the kept policy on other episodes (a constant-action policy: exact returns)."""
    from jirl.algorithms import ppo
    from jirl.envs import VecEnv
    from jirl.loops.common import BestPolicy
    from jirl.policy import load_policy, policy_to_bytes

    pcfg = ppo.PPOConfig(hidden=(8,))
    params = ppo.init(pcfg, jax.random.PRNGKey(0), 3, 1, 1).params["actor"]
    written = []

    def make_bytes(meta):
        written.append(meta["env_steps"])
        return policy_to_bytes("gaussian", params, pcfg.hidden, 3, 1, None, {"env_id": "Pendulum-v1", **meta})

    best = BestPolicy(tmp_path)
    for step, ret in [(100, -5.0), (200, -3.0), (300, -4.0), (400, -3.0)]:
        best.offer(step, ret, make_bytes)
    assert written == [100, 200] and best.best_step == 200
    assert load_policy(tmp_path / BestPolicy.NAME).meta["env_steps"] == 200
    assert BestPolicy(tmp_path, resume_step=250).best_return == -3.0  # kept: written before the checkpoint
    assert BestPolicy(tmp_path, resume_step=150).best_step is None  # newer than the checkpoint: dropped
    assert not (tmp_path / BestPolicy.NAME).exists()

    best = BestPolicy(tmp_path)
    best.offer(10, -1.0, make_bytes)
    env = VecEnv("Pendulum-v1", num_envs=2)
    report = best.report(env, 2, seed=7, reference_lines={"expert": 0.0, "random": -1000.0})
    assert report["best_eval_env_steps"] == 10 and report["best_policy_fresh_episodes"] == 2
    assert np.isfinite(report["best_policy_fresh_mean_return"])
    assert report["best_policy_fresh_normalized_score"] == pytest.approx((report["best_policy_fresh_mean_return"] + 1000.0) / 1000.0)


def test_evaluate_watch_obs_counts_episodes_over_the_limit(run_script):
    # Pendulum's obs[2] is the angular velocity; with seed 0 random torques swing it past 4 in some episodes only
    out = run_script("evaluate.py", "--policy", "random", "--env", "Pendulum-v1", "--episodes", "6", "--watch-obs", "2", "--watch-limit", "4.0")
    assert out.returncode == 0, out.stderr[-2000:]
    s = json.loads(out.stdout.strip().splitlines()[-1])
    w = s["watch"]
    flagged = [f is not None for f in w["first_step_over"]]
    assert w["episodes_over_limit"] == sum(flagged) and len(flagged) == 6
    assert flagged == [m > 4.0 for m in w["max_abs_per_episode"]] and 0 < sum(flagged) < 6
    others = [r for r, f in zip(s["returns"], flagged, strict=True) if not f]
    assert abs(w["mean_return_others"] - sum(others) / len(others)) < 0.1  # returns are rounded to 0.1


def test_machine_description_names_the_cpu_and_its_vector_extension(monkeypatch, tmp_path):
    """Benchmark rows and results say which CPU ran them: model name and the widest vector extension, read from
    the first core's entry of /proc/cpuinfo (two hosts both called "AMD EPYC" differ by 1.7x; README)."""
    import builtins

    from jirl.loops import common

    cpuinfo = tmp_path / "cpuinfo"
    real_open = builtins.open

    def fake_open(path, *args, **kwargs):
        return real_open(cpuinfo if path == "/proc/cpuinfo" else path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(common.platform, "machine", lambda: "x86_64")
    core = "processor\t: {i}\nmodel name\t: Some CPU {i}\nflags\t\t: fpu sse2 {flags}\n"
    for flags, simd in (("avx avx2 avx512f avx512bw", ", AVX-512"), ("avx avx2", ", AVX2"), ("avx", "")):
        cpuinfo.write_text(core.format(i=0, flags=flags) + "\n" + core.format(i=1, flags="avx2 avx512f"))
        assert common.machine_description() == f"{os.cpu_count()}-core x86_64 CPU (Some CPU 0{simd})"
