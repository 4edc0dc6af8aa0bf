"""GAIL: imitate the shipped HalfCheetah-v5 expert from its demonstrations (PPO generator).

    python experiments/gail.py                                   # the full benchmark run, 4 demos, 2M steps
    python experiments/gail.py --num-demos 1 --total-steps 500000
    python experiments/gail.py --demos my_demos.npz --env-id Hopper-v5
    python experiments/gail.py --run-dir runs/my-gail --resume   # continue a killed run

The discriminator D(s, a) = P(expert) is trained on fresh policy rollouts against expert samples each
round; the policy is trained by PPO on the reward -log(1 - D) (see --disc.reward). The progress bar shows
env steps, the true env return of the deterministic policy and the discriminator accuracy. The run folder
gets metrics.jsonl, eval.jsonl (with normalized scores), TensorBoard logs, checkpoints, policy.msgpack and
curve.png (true return vs env steps with the expert and random lines). Last stdout line: a JSON summary with
mean_return, normalized_score, env_steps and wall_s.
"""

from jirl.cli import run
from jirl.loops.gail import GAILTrainConfig, train

if __name__ == "__main__":
    run(GAILTrainConfig, train, __doc__)
