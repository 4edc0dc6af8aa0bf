"""SeqGAN vs maximum likelihood on the paper's synthetic-oracle experiment (Yu et al. 2017), 3 seeds in one program.

    python experiments/seqgan.py                                  # the benchmark: the paper's vocabulary 5,000, 3 seeds
    python experiments/seqgan.py --num-seeds 1                    # one seed
    python experiments/seqgan.py --model.vocab 1000 --pretrain-epochs 50 --g-steps 1 --adv-epochs 30
                                     # the defaults before 2026-12-07 (README)
    python experiments/seqgan.py --model.disc bigram --model.reward logit --model.baseline --adv-epochs 10
                                     # the corpus's bigram model as a likelihood-ratio discriminator: 0.39 nats (README)
    python experiments/seqgan.py --run-dir runs/seqgan --resume   # continue a killed run
    python experiments/seqgan.py --model.disc optimal --model.reward logit --model.baseline --g-steps 5 --adv-epochs 10
                                     # diagnostic: the policy gradient with the exact optimal discriminator

A random LSTM oracle (parameters ~ N(0, 1)) writes --num-train sequences; a generator LSTM is pre-trained on them
by maximum likelihood, a CNN discriminator is pre-trained (--model.disc chooses another), and then one copy of the generator continues maximum
likelihood while another trains adversarially (REINFORCE, rewards from --model.num-rollouts Monte Carlo
completions scored by the discriminator). Both are scored by the oracle's NLL per token of their samples
(NLL_oracle) and by their own NLL per token on held-out oracle data (NLL_test). Writes curves.jsonl,
seqgan.png and results.json to --run-dir; the last stdout line is a JSON summary (margin_nats = MLE minus SeqGAN
NLL_oracle, per seed and mean; phase_wall_s = where the time went; reward_rank_corr = how well the
discriminator ranks the generator's samples by oracle likelihood, next to what the optimal discriminator would do).
The defaults (3 seeds) took 12.6 minutes on an idle 2-core AMD EPYC with AVX-512 (README; about 21 estimated on
an older AVX2 one); a checkpoint is written every 5 epochs. At the end the MLE generator is also scored at lower sampling temperatures
(--temperatures), the fair baseline for an NLL_oracle gain.
"""

from jirl.cli import run
from jirl.loops.seqgan import SeqGANRunConfig, train

if __name__ == "__main__":
    run(SeqGANRunConfig, train, __doc__)
