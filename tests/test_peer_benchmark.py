"""experiments/peer_benchmark.py: jirl's side only (the peers' environment is not installed in CI), tiny budgets."""

import json


def test_peer_benchmark_jirl_only(run_script):
    # gail runs jirl's PPO loop too; jirl's first 1,000 SAC learning steps (one compiled call, with its
    # compilation) are the warm-up, before the window
    args = "--jirl-only --algos sac gail --learning-starts 1000 --warmup-steps 1000 --measure-steps 1000 --warmup-rollouts 1 --measure-rollouts 1"
    res = run_script("peer_benchmark.py", *args.split(), timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    lines = res.stdout.strip().splitlines()
    summary = json.loads(lines[-1])
    assert {"date", "machine", "rows", "failed", "jirl_versions", "peer_versions", "wall_s"} <= set(summary)
    assert summary["failed"] == [] and summary["peers_venv"] is None and summary["recorded_rows"] == 0
    assert [r["algo"] for r in summary["rows"]] == ["sac", "gail"]
    for row in summary["rows"]:
        assert row["jirl_env_steps_per_s"] > 0 and row["peer"] is None and row["ratio"] is None
    assert summary["rows"][0]["jirl_measured_steps"] == 1000
    assert summary["rows"][1]["jirl_measured_steps"] == 2048 and "64x64, 8 envs x 256 steps" in summary["rows"][1]["setting"]
    table = [line for line in lines if line.startswith("| ")]
    assert table[0].startswith("| algo | setting | jirl env steps/s | peer |")
    body = {line.split(" | ")[0].strip("| "): line.split(" | ") for line in table[2:]}
    assert set(body) == {"sac", "gail"}
    for cells in body.values():
        assert float(cells[2].replace(",", "")) > 0


def test_peer_benchmark_user_errors(run_script):
    res = run_script("peer_benchmark.py", "--jirl-only", "--algos", "sac", "--measure-steps", "1500", timeout=120)
    assert res.returncode == 2 and "--measure-steps" in res.stderr
    res = run_script("peer_benchmark.py", "--jirl-only", "--record", timeout=120)
    assert res.returncode == 2 and "--record" in res.stderr


def test_append_markdown_rows_goes_under_its_table_before_notes(tmp_path):
    from jirl.fileio import append_markdown_rows

    path = tmp_path / "B.md"
    append_markdown_rows(path, "## A", "about A", ["| a1 |"])  # new file, new section with header
    path.write_text(path.read_text() + "\nA note under table A.\n\n## B\n\ntext\n\n| h |\n| --- |\n| b1 |\n")
    append_markdown_rows(path, "## A", "about A", ["| a2 |", "| a3 |"])
    append_markdown_rows(path, "## B", "about B", ["| b2 |"])
    append_markdown_rows(path, "## C", "about C", ["| c1 |"])
    lines = path.read_text().splitlines()
    assert lines.index("| a1 |") + 1 == lines.index("| a2 |") and lines.index("| a3 |") < lines.index("A note under table A.")
    assert lines.index("| b1 |") + 1 == lines.index("| b2 |")
    assert lines[-1] == "| c1 |" and "about C" in lines and lines.count("| date | machine | setting | env steps/s | command |") == 2


def test_benchmark_rollout_shape_options_and_user_errors(run_script, tmp_path):
    """experiments/benchmark.py: --rollout-steps / --minibatch-size / --epochs set the round's shape (here on the
    Gymnasium bridge, 4 envs x 16 steps); the row goes to its section of --out; bad shapes are one-line errors."""
    out = tmp_path / "B.md"
    args = ["--algo", "ppo", "--num-envs", "4", "--rollout-steps", "16", "--minibatch-size", "32", "--epochs", "2",
            "--warmup-steps", "64", "--measure-steps", "128", "--out", str(out)]
    res = run_script("benchmark.py", *args, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    s = json.loads(res.stdout.strip().splitlines()[-1])
    assert s["measured_steps"] == 128 and s["env_steps_per_s"] > 0
    # where a round's time goes: both parts present, and together about the round time (2 rounds of 64 steps)
    round_ms = 1e3 * 64 / s["env_steps_per_s"]
    assert s["collect_ms_per_round"] > 0 and s["update_ms_per_round"] > 0
    assert 0.5 * round_ms < s["collect_ms_per_round"] + s["update_ms_per_round"] < 2.0 * round_ms
    assert s["setting"] == "PPO HalfCheetah-v5, 64x64, 4 envs x 16 steps, 2 epochs, minibatch 32"
    text = out.read_text()
    assert "## PPO, HalfCheetah-v5" in text and "4 envs x 16 steps, 2 epochs, minibatch 32" in text
    for bad, msg in ((["--algo", "sac", "--backend", "mjx"], "--backend mjx is for --algo ppo or gail"),
                     (["--algo", "ppo", "--num-envs", "3"], "--num-envs must divide 2048"),
                     (["--algo", "ppo", "--rollout-steps", "0"], "--rollout-steps must be >= 1"),
                     (["--algo", "gail", "--num-envs", "4", "--rollout-steps", "16", "--measure-steps", "32"], "--measure-steps must be >= 64")):
        res = run_script("benchmark.py", *bad, "--no-record", timeout=120)
        assert res.returncode == 2 and msg in res.stderr and "Traceback" not in res.stderr, (bad, res.stderr[-500:])


def test_benchmark_measures_wall_clock_from_the_warm_up_row(tmp_path, monkeypatch):
    """experiments/benchmark.py's figure is env steps over the wall-clock time between the logged rows (the row
    ending the warm-up to the last one), not a sum of per-round timers: time spent between rounds counts."""
    import importlib.util
    import sys
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("jirl_benchmark_script", Path(__file__).parents[1] / "experiments" / "benchmark.py")
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "jirl_benchmark_script", bench)  # dataclasses look their module up
    spec.loader.exec_module(bench)
    rows = [  # per-round timers say 1,000 steps/s; the rows are 2 s apart, so the wall clock says 500
        {"env_steps": 1000, "time": 100.0, "steps_per_s": 1000.0},
        {"env_steps": 2000, "time": 102.0, "steps_per_s": 1000.0},
        {"env_steps": 3000, "time": 104.0, "steps_per_s": 1000.0},
        {"env_steps": 3000, "time": 104.5, "mean_return": 1.0},  # rows without a timer are skipped
        {"env_steps": 4000, "time": 106.0, "steps_per_s": 1000.0},
    ]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert bench._measure_rows(tmp_path, 2000, 0, 1) == (500.0, 2000)
    assert bench._measure_rows(tmp_path, 1500, 0, 1) == (500.0, 2000)  # the window starts at the first row >= start
