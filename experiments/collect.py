"""Roll out a policy (deterministic actions) and save whole episodes as a demonstrations .npz.

    python experiments/collect.py --policy runs/expert-halfcheetah/policy.msgpack --episodes 25 \
        --out jirl/experts/HalfCheetah-v5/demos.npz

The file holds observations, actions (env units), rewards, next observations, terminated/truncated flags,
episode starts and JSON metadata (env id, shapes, package versions, return statistics, how it was made);
see jirl/data.py for the schema. Last stdout line: a JSON summary.
"""

from jirl.cli import run
from jirl.loops.rollout import CollectConfig, collect

if __name__ == "__main__":
    run(CollectConfig, collect, __doc__)
