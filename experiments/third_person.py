"""Third-person imitation (Stadie et al. 2017) on Pendulum-v1 from pixels, against GAIL with and without a
viewpoint change.

    python experiments/third_person.py                                  # 3 settings x 3 seeds, table + PNG
    python experiments/third_person.py --settings third-person --seeds 0 --out-dir runs/tp-try
    python experiments/third_person.py --run.tp.domain-confusion 0.3    # another lambda
    python experiments/third_person.py --table-only                     # rebuild the table from finished runs

The expert (the shipped SAC Pendulum-v1 policy) is seen only as 16x16 RGB frames from its camera: white rod on
dark blue. The learner, a DAC-style SAC agent acting on its own state, is filmed by another camera: by default
the same geometry in other colours (red rod on light grey; --run.view recoloured), or with --run.view moved
also off-centre, zoomed out and rolled 14 degrees (not solved yet). It is rewarded with -log(1 - D) of a
discriminator that sees two-frame clips (frames t and t+1) through a small convolutional feature extractor
(each frame standardized per colour channel first). Negatives of the discriminator: the learner's clips and
clips of random actions filmed by the expert's camera. On a 2-core CPU a run takes 3-9 minutes (10,000 steps),
the default 9 runs about an hour.

Settings: same-domain (learner filmed by the expert's camera: the reference), cross-domain (own camera, no
domain confusion: plain GAIL across viewpoints), third-person (own camera, plus a domain classifier trained
through gradient reversal, so the features cannot tell the cameras apart). Every run is a folder
<out-dir>/<setting>-s<seed> with the usual metrics, curve and checkpoints; finished runs are kept and a killed
benchmark continues from the last checkpoint when rerun. Writes table.md (return and normalized score, mean
± std over seeds, and the share of the cross-domain gap that third-person imitation closes), third_person.png
(normalized score vs env steps) and results.json; the last stdout line is a JSON summary.
"""

from jirl.cli import run
from jirl.loops.third_person import ThirdPersonBenchConfig, bench

if __name__ == "__main__":
    run(ThirdPersonBenchConfig, bench, __doc__)
