"""Evaluate a policy file (or 'random') with deterministic actions over whole episodes.

    python experiments/evaluate.py --policy jirl/experts/HalfCheetah-v5/policy.msgpack --env HalfCheetah-v5 --episodes 10 --seed 0
    python experiments/evaluate.py --policy random --episodes 10
    python experiments/evaluate.py --policy runs/gail-s0/policy.msgpack --episodes 20 --seed 500 --watch-obs 1   # count flips

Last stdout line: {"mean_return": ..., "std_return": ..., "min_return": ..., "max_return": ..., "normalized_score": ...}
(normalized_score appears when reference returns for the env are known: jirl/experts/references.json).
"""

from jirl.cli import run
from jirl.loops.rollout import EvaluateConfig, evaluate

if __name__ == "__main__":
    run(EvaluateConfig, evaluate, __doc__)
