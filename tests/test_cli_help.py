"""``--help`` of every experiment script: it exits 0 before doing any work, and the option descriptions written
as multi-line field docstrings come out as one paragraph (not one row per source line)."""

from __future__ import annotations

import contextlib
import io
import re
import runpy
import sys
from pathlib import Path

import pytest

from jirl.cli import join_help_lines

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
SCRIPTS = sorted(p.name for p in EXPERIMENTS.glob("*.py"))


def test_join_help_lines_dedents_and_joins_but_keeps_paragraphs_and_bullets():
    doc = "First line of the help\n    continues here (and here)\n    `--flag` too.\n\n    New paragraph:\n    - one\n    - two"
    assert join_help_lines(doc) == "First line of the help continues here (and here) `--flag` too.\n\nNew paragraph:\n- one\n- two"
    assert join_help_lines("one line") == "one line"


def _help(script: str, monkeypatch, columns: int = 80) -> str:
    """``script --help`` as printed to a non-terminal of ``columns`` columns (80: one panel column)."""
    monkeypatch.setenv("COLUMNS", str(columns))
    monkeypatch.setattr(sys, "argv", [script, "--help"])
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(EXPERIMENTS / script), run_name="__main__")
    assert exit_info.value.code in (0, None), f"{script} --help exited {exit_info.value.code}"
    return out.getvalue()


def undocumented_options(text: str) -> list[str]:
    """Flags whose ``--help`` row has no description, only ``(default: ...)``. Reads tyro's plain layout (not a
    terminal) and its boxed one, per panel column (panels side by side on a wide terminal); a long flag has its
    description on the next row. Needs one panel column (80 columns)."""
    flag_row = re.compile(r"^ {1,4}(--[\w.-]+)(?:, --[\w.-]+)?(?: \S+)*?(?:\s{2,}(.*?))?\s*$")
    missing, pending = [], {}
    for line in text.splitlines():
        for col, cell in enumerate(line.split("│")):
            m = flag_row.match(cell)
            if m:
                if m.group(2) is None:
                    pending[col] = m.group(1)
                elif m.group(2).startswith("(default:"):
                    missing.append(m.group(1))
                continue
            if col in pending:
                flag = pending.pop(col)
                if cell.strip().startswith("(default:"):
                    missing.append(flag)
    return missing


def test_undocumented_options_finds_a_row_without_help():
    plain = "  --a INT     Help of a. (default: 1)\n  --b FLOAT   (default: 0.5)\n  --a-very-long.flag-name INT\n      (default: 3)"
    assert undocumented_options(plain) == ["--b", "--a-very-long.flag-name"]
    rows = "│ --a INT     Help of a. (default: 1) │\n│ --b FLOAT   (default: 0.5)   │\n│ --a-very-long.flag-name INT │\n│      (default: 3) │"
    assert undocumented_options(rows) == ["--b", "--a-very-long.flag-name"]


def test_there_are_scripts():
    assert len(SCRIPTS) >= 20 and "gail.py" in SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_script_help_exits_0_and_lists_its_options(script, monkeypatch):
    text = _help(script, monkeypatch)
    assert "usage:" in text and "--help" in text
    assert text.count("(default:") >= 1, f"{script} --help shows no options"
    assert undocumented_options(text) == [], f"{script} --help: options without a description"


def test_multi_line_field_docstrings_are_one_row_in_help(monkeypatch):
    text = _help("gail.py", monkeypatch, columns=1000)  # wide enough for any description on one row
    # source: two lines, the second indented; tyro alone shows them as two rows
    assert "RL learner: ppo (on-policy GAIL) or sac (off-policy, DAC-style: replay samples as the policy side, gradient penalty on)" in text
    assert "(vmapped over seeds; K x num_envs envs). Each seed gets its own folder" in text
