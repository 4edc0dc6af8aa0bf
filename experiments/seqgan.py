"""SeqGAN vs maximum likelihood on the paper's synthetic-oracle experiment (Yu et al. 2017), 3 seeds in one program.

    python experiments/seqgan.py                                  # the benchmark (defaults below)
    python experiments/seqgan.py --num-seeds 1 --adv-epochs 20    # a quicker look
    python experiments/seqgan.py --model.vocab 5000               # the paper's vocabulary (slower)
    python experiments/seqgan.py --model.vocab 5000 --g-steps 3 --adv-epochs 15
                                     # the largest margin measured so far (README; ~71 minutes on an idle 2-core CPU)
    python experiments/seqgan.py --run-dir runs/seqgan --resume   # continue a killed run
    python experiments/seqgan.py --model.disc optimal --model.reward logit --model.baseline --g-steps 5 --adv-epochs 10
                                     # diagnostic: the policy gradient with the exact optimal discriminator

A random LSTM oracle (parameters ~ N(0, 1)) writes --num-train sequences; a generator LSTM is pre-trained on them
by maximum likelihood, a CNN discriminator is pre-trained, and then one copy of the generator continues maximum
likelihood while another trains adversarially (REINFORCE, rewards from --model.num-rollouts Monte Carlo
completions scored by the discriminator). Both are scored by the oracle's NLL per token of their samples
(NLL_oracle) and by their own NLL per token on held-out oracle data (NLL_test). Writes curves.jsonl,
seqgan.png and results.json to --run-dir; the last stdout line is a JSON summary (margin_nats = MLE minus SeqGAN
NLL_oracle, per seed and mean; phase_wall_s = where the time went; reward_rank_corr = how well the
discriminator ranks the generator's samples by oracle likelihood, next to what the optimal discriminator would do).
The defaults took 51-67 minutes for 3 seeds on shared 2-core CPUs; a checkpoint is written every 10 epochs. At the end the MLE generator is also scored at lower sampling temperatures
(--temperatures), the fair baseline for an NLL_oracle gain.
"""

from jirl.cli import run
from jirl.loops.seqgan import SeqGANRunConfig, train

if __name__ == "__main__":
    run(SeqGANRunConfig, train, __doc__)
