"""DAgger with the shipped HalfCheetah-v5 expert as the labeller: several seeds trained in one compiled program.

    python experiments/dagger.py                          # 4 demos, 10 rounds x 2,000 steps, 3 seeds
    python experiments/dagger.py --num-demos 1 --rounds 5
    python experiments/dagger.py --expert path/to/policy.msgpack --env-id Hopper-v5 --demos hopper.npz

Round 0 is BC on the demonstrations; each later round rolls out the beta-mixture of expert and learner,
labels every visited state with the expert's action, aggregates and retrains from scratch. Writes
rounds.jsonl, rounds.png (normalized score per round), a policy per seed and summary.json; the last
stdout line is a JSON summary.
"""

from jirl.cli import run
from jirl.loops.bc import DAggerTrainConfig, train_dagger

if __name__ == "__main__":
    run(DAggerTrainConfig, train_dagger, __doc__)
