"""Behaviour cloning of the shipped HalfCheetah-v5 expert: several seeds trained in one compiled program.

    python experiments/bc.py                         # 25 demos, 3 seeds (jax.vmap), MSE on tanh(mean)
    python experiments/bc.py --num-demos 1 --num-seeds 5
    python experiments/bc.py --bc.loss nll           # Gaussian log-likelihood with the tanh correction

Writes policy-seed<S>.msgpack per seed (usable with experiments/evaluate.py) and summary.json to the run
directory. The last stdout line is a JSON summary: mean return and normalized score over seeds.
"""

from jirl.cli import run
from jirl.loops.bc import BCTrainConfig, train_bc

if __name__ == "__main__":
    run(BCTrainConfig, train_bc, __doc__)
