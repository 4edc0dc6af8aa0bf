"""Train Soft Actor-Critic on a Gymnasium env (default: HalfCheetah-v5, the run that made the shipped expert).

    python experiments/sac.py                                  # 1M steps on HalfCheetah-v5, seed 0
    python experiments/sac.py --env-id Hopper-v5 --total-steps 300000
    python experiments/sac.py --run-dir runs/my-run --resume   # continue a killed run

Writes metrics.jsonl, eval.jsonl, TensorBoard logs (tb/), curve.png, checkpoints and policy.msgpack to the
run directory; the last stdout line is a JSON summary (mean_return, std_return, env_steps, wall_s, ...).
"""

from jirl.cli import run
from jirl.loops.sac import SACTrainConfig, train

if __name__ == "__main__":
    run(SACTrainConfig, train, __doc__)
