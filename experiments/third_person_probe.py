"""Offline probe of third-person imitation's discriminator (no RL): would its reward guide a learner?

    python experiments/third_person_probe.py                               # the three settings, lambda 1
    python experiments/third_person_probe.py --tp.domain-confusion 0.1 --settings third-person

Trains only the discriminator, for --steps steps, on the pools a beginning learner would give it: expert
clips and random-action clips filmed by the expert's camera, and random-action "learner" clips filmed by
the setting's learner camera. Then it scores held-out expert episodes and fresh random episodes, both filmed
by the learner's camera. Prints a table: reward AUC (P(an expert clip scores above a random clip) in the
learner's own view: near 1 is what an RL learner needs), the viewpoint leak AUC (random clips of the expert's
camera vs random clips of the learner's: 0.5 means the behaviour head cannot see the viewpoint), the mean
logits and the domain classifier's training accuracy. A minute per setting on a 2-core CPU, so settings and
lambdas can be screened before spending RL runs on them. Last stdout line: a JSON summary.
"""

from jirl.cli import run
from jirl.loops.third_person import ProbeConfig, probe

if __name__ == "__main__":
    run(ProbeConfig, probe, __doc__)
