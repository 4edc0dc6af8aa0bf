"""experiments/compare.py: cells are found, adopted and skipped correctly, the table is right, and a tiny
end-to-end BC comparison writes table, figure and results."""

import json
from pathlib import Path

import numpy as np

from jirl.loops.compare import CompareConfig, adopt_finished_gail, cell_scores, collect, markdown_table


def fake_gail_run(run_dir: Path, num_demos: int, seed: int, total_steps: int, final_steps: int, score: float) -> None:
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps({"num_demos": num_demos, "seed": seed, "total_steps": total_steps}))
    evals = [
        {"env_steps": 50_000, "mean_return": 1.0, "std_return": 0.0, "normalized_score": 0.1},
        {"env_steps": final_steps, "mean_return": 2.0, "std_return": 0.5, "normalized_score": score},
    ]
    (run_dir / "eval.jsonl").write_text("".join(json.dumps(e) + "\n" for e in evals))


def test_finished_gail_runs_are_adopted_and_unfinished_or_mismatched_ones_are_not(tmp_path):
    cfg = CompareConfig(methods=("gail",), num_demos=(4,), num_seeds=2, out_dir=str(tmp_path), gail_steps=1000)
    fake_gail_run(tmp_path / "gail-4demos-s0", 4, 0, 1000, 1024, 0.8)
    fake_gail_run(tmp_path / "gail-4demos-s1", 4, 1, 1000, 512, 0.9)  # killed before the end
    assert adopt_finished_gail(tmp_path / "gail-4demos-s0", 4, 0, 1000)
    assert not adopt_finished_gail(tmp_path / "gail-4demos-s1", 4, 1, 1000)
    assert not adopt_finished_gail(tmp_path / "gail-4demos-s0", 4, 1, 1000)  # wrong seed
    assert not adopt_finished_gail(tmp_path / "gail-4demos-s0", 1, 0, 1000)  # wrong demos
    assert cell_scores(cfg, "gail", 4) is None  # one seed missing: the cell is not finished
    fake_gail_run(tmp_path / "other", 4, 1, 1000, 1000, 0.6)
    (tmp_path / "gail-4demos-s1").rename(tmp_path / "stale")
    (tmp_path / "other").rename(tmp_path / "gail-4demos-s1")
    assert adopt_finished_gail(tmp_path / "gail-4demos-s1", 4, 1, 1000)
    r = cell_scores(cfg, "gail", 4)
    assert r is not None and r["scores"] == [0.8, 0.6]


def test_table_reports_mean_and_std_over_seeds_and_marks_missing_cells(tmp_path):
    cfg = CompareConfig(methods=("bc", "dagger"), num_demos=(1, 25), num_seeds=3, out_dir=str(tmp_path))
    (tmp_path / "bc-1demos").mkdir()
    scores = [0.1, 0.2, 0.6]
    (tmp_path / "bc-1demos" / "summary.json").write_text(json.dumps({"num_seeds": 3, "num_demos": 1, "normalized_per_seed": scores}))
    (tmp_path / "bc-25demos").mkdir()  # written for 2 seeds: does not count for a 3-seed comparison
    (tmp_path / "bc-25demos" / "summary.json").write_text(json.dumps({"num_seeds": 2, "num_demos": 25, "normalized_per_seed": [1, 1]}))
    results = collect(cfg)
    assert list(results["bc"]) == [1] and results["dagger"] == {}
    table = markdown_table(cfg, results)
    bc_row = next(line for line in table.splitlines() if line.startswith("| BC "))
    assert f"{np.mean(scores):.3f} ± {np.std(scores):.3f}" in bc_row and bc_row.count("not run") == 1
    assert next(line for line in table.splitlines() if line.startswith("| DAgger")).count("not run") == 2


def test_compare_script_tiny_bc_run_then_skips_finished_cells(tmp_path, run_script):
    args = ["--methods", "bc", "--num-demos", "1", "--num-seeds", "2"]
    args += ["--eval-episodes", "1", "--bc.max-epochs", "3", "--out-dir", str(tmp_path)]
    out = run_script("compare.py", *args)
    assert out.returncode == 0, out.stderr[-2000:]
    s = json.loads(out.stdout.strip().splitlines()[-1])
    assert s["cells_finished"] == 1 and set(s["normalized_score"]["bc"]) == {"1"}
    for name in ("table.md", "compare.png", "results.json", "bc-1demos/summary.json"):
        assert (tmp_path / name).is_file(), name
    results = json.loads((tmp_path / "results.json").read_text())["results"]
    assert len(results["bc"]["1"]["scores"]) == 2
    stamp = (tmp_path / "bc-1demos" / "summary.json").stat().st_mtime_ns
    again = run_script("compare.py", *args)
    assert again.returncode == 0 and '"status": "training"' not in again.stdout
    assert (tmp_path / "bc-1demos" / "summary.json").stat().st_mtime_ns == stamp  # nothing retrained
    # other BC settings than the finished cell's: a one-line error, the cell untouched
    other = run_script("compare.py", *args, "--bc.lr-schedule", "cosine")
    assert other.returncode == 2 and "Traceback" not in other.stderr
    assert "lr_schedule: 'constant' there, 'cosine' asked" in other.stderr and "--out-dir" in other.stderr
    assert (tmp_path / "bc-1demos" / "summary.json").stat().st_mtime_ns == stamp


def test_table_only_adopts_linked_runs_and_trains_nothing(tmp_path):
    from jirl.loops.compare import compare

    runs = tmp_path / "elsewhere"
    for k, score in enumerate((0.7, 0.9)):
        fake_gail_run(runs / f"gail-s{k}", 4, k, 1000, 1024, score)
    out = tmp_path / "cmp"
    out.mkdir()
    for k in range(2):
        (out / f"gail-4demos-s{k}").symlink_to(runs / f"gail-s{k}")
    cfg = CompareConfig(methods=("bc", "gail"), num_demos=(1, 4), num_seeds=2, out_dir=str(out), gail_steps=1000, table_only=True)
    summary = compare(cfg)
    assert summary["cells_finished"] == 1 and summary["normalized_score"] == {"bc": {}, "gail": {"4": 0.8}}
    assert not (out / "bc-1demos").exists()  # nothing trained
    assert "0.800 ± 0.100" in (out / "table.md").read_text()


def test_finished_dagger_cell_with_other_steps_per_round_is_refused(tmp_path):
    """A DAgger cell collected with another --dagger-steps-per-round (older cells: 2,000, recorded or not) is
    refused with a one-line error naming the flag, instead of mixing settings in one table; the same setting is read."""
    import pytest

    from jirl.algorithms.bc import BCConfig
    from jirl.loops.common import UserError, config_to_dict
    from jirl.loops.compare import check_bc_settings

    cfg = CompareConfig(methods=("dagger",), num_demos=(1,), num_seeds=3, out_dir=str(tmp_path))
    bc_settings = config_to_dict(cfg.dagger_bc)
    assert cfg.dagger_steps_per_round == 5000 and cfg.dagger_bc == BCConfig(lr_schedule="cosine")
    check_bc_settings(cfg, "dagger", tmp_path, {"config": {"bc": bc_settings, "steps_per_round": 5000}})  # same: accepted
    for recorded in ({"steps_per_round": 2000}, {}):
        with pytest.raises(UserError, match="collected 2,000 env steps per round, 5,000 asked; pass --dagger-steps-per-round 2000"):
            check_bc_settings(cfg, "dagger", tmp_path, {"config": {"bc": bc_settings, **recorded}})
    old = CompareConfig(methods=("dagger",), num_demos=(1,), num_seeds=3, out_dir=str(tmp_path), dagger_steps_per_round=2000)
    check_bc_settings(old, "dagger", tmp_path, {"config": {"bc": bc_settings}})  # an old cell, read with its setting
