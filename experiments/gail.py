"""GAIL: imitate the shipped HalfCheetah-v5 expert from its demonstrations (PPO generator).

    python experiments/gail.py                                   # the full benchmark run, 4 demos, 2M steps
    python experiments/gail.py --disc.reward airl --ppo.learning-rate 2e-4  # 0.90 on 6 of 6 seeds (README)
    python experiments/gail.py --num-demos 1 --total-steps 500000
    python experiments/gail.py --learner sac                     # off-policy (DAC-style) GAIL, 300k steps
    python experiments/gail.py --bc-coef 0 --no-bc-init          # plain GAIL, no behaviour cloning at all
    python experiments/gail.py --demos my_demos.npz --env-id Hopper-v5
    python experiments/gail.py --run-dir runs/my-gail --resume   # continue a killed run

The policy (256x256 Gaussian) starts from behaviour cloning on the demonstrations (--bc-init) and the first
--critic-warmup-rounds train only the value net. Each round then collects 2,048 steps (8 envs x 256), trains
the discriminator D(s, a) = P(expert) (gradient penalty 10) on them against expert samples, relabels the
rollout with the reward -log(1 - D) (see --disc.reward) and runs PPO on it, with a behaviour-cloning term
on expert pairs whose weight decays to 0 over the run (--bc-coef, --bc-decay; --bc-coef 0 is plain GAIL). The progress bar shows
env steps, the true env return of the deterministic policy and the discriminator accuracy. The run folder
gets metrics.jsonl, eval.jsonl (with normalized scores), TensorBoard logs, checkpoints, policy.msgpack and
curve.png (true return vs env steps with the expert and random lines). Last stdout line: a JSON summary with
mean_return, normalized_score, env_steps and wall_s.
"""

from jirl.cli import run
from jirl.loops.gail import GAILTrainConfig, train

if __name__ == "__main__":
    run(GAILTrainConfig, train, __doc__)
