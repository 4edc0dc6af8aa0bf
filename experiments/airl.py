"""AIRL (Fu et al. 2018) on HalfCheetah-v5 from the shipped demonstrations, then reward transfer.

    python experiments/airl.py                              # 3M AIRL steps (PPO), then 300k SAC steps on the learned g
    python experiments/airl.py --transfer-steps 0           # AIRL only
    python experiments/airl.py --num-seeds 3                # seeds 0-2 in one program; one transfer agent per seed
    python experiments/airl.py --run-dir runs/airl-s0 --resume   # continue either stage of a killed run

Stage 1 trains the discriminator D = exp f / (exp f + pi) with f = g(s) + gamma h(s') - h(s) against a PPO
generator (same start and regularizers as experiments/gail.py); the learned reward g (linear in the normalized
state by default; --disc.reward-hidden 64 64 for an MLP) is saved to reward.msgpack. The generator maximizes f (--disc.reward f; the paper's f - log pi is --disc.reward airl), and
the discriminator has GAIL's gradient penalty and input noise (--disc.grad-penalty, --disc.input-noise). Stage 2 trains a fresh SAC agent from scratch on g alone (run_dir/transfer) and reports its
true return. The last stdout line is a JSON summary: the AIRL policy's return and normalized score, and
transfer_* figures for the SAC agent.
"""

from jirl.cli import run
from jirl.loops.airl import AIRLTrainConfig, train

if __name__ == "__main__":
    run(AIRLTrainConfig, train, __doc__)
