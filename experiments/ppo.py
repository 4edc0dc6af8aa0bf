"""Train PPO with GAE on a Gymnasium env's own reward (sanity check of the learner that GAIL uses).

    python experiments/ppo.py                                    # 1M steps on HalfCheetah-v5, 8 envs x 256 steps
    python experiments/ppo.py --num-envs 1 --ppo.num-steps 2048  # one env, same 2048-step rollouts (SB3's default)
    python experiments/ppo.py --run-dir runs/my-ppo --resume    # continue a killed run

Writes metrics.jsonl, eval.jsonl, TensorBoard logs (tb/), curve.png, a checkpoint and policy.msgpack to the
run directory; the last stdout line is a JSON summary.
"""

from jirl.cli import run
from jirl.loops.ppo import PPOTrainConfig, train

if __name__ == "__main__":
    run(PPOTrainConfig, train, __doc__)
