"""Reference returns for normalized scores: ``(R - R_random) / (R_expert - R_random)``.

The figures live in ``jirl/experts/references.json`` and are written by the commands that measure them
(``experiments/evaluate.py --policy random ...`` and the evaluation of the shipped expert); see README.md.
"""

from __future__ import annotations

import json
from pathlib import Path

EXPERTS_DIR = Path(__file__).resolve().parent / "experts"
REFERENCES_FILE = EXPERTS_DIR / "references.json"


def reference_returns(env_id: str) -> dict | None:
    """``{"random": R_random, "expert": R_expert, ...}`` for ``env_id``, or None when not measured."""
    if not REFERENCES_FILE.exists():
        return None
    refs = json.loads(REFERENCES_FILE.read_text())
    entry = refs.get(env_id)
    if not entry or "random" not in entry or "expert" not in entry:
        return None
    return entry


def reference_lines(env_id: str) -> dict:
    """``{"expert": R_expert, "random": R_random}`` for learning-curve lines and normalized scores (empty when
    the env has no measured references)."""
    ref = reference_returns(env_id)
    return {"expert": ref["expert"]["mean_return"], "random": ref["random"]["mean_return"]} if ref else {}


def normalized_score(env_id: str, mean_return: float) -> float | None:
    ref = reference_returns(env_id)
    if ref is None:
        return None
    return float((mean_return - ref["random"]["mean_return"]) / (ref["expert"]["mean_return"] - ref["random"]["mean_return"]))
