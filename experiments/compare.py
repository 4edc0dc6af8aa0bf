"""Compare imitation methods on the shipped HalfCheetah-v5 expert: normalized score vs number of demonstrations.

    python experiments/compare.py                                   # BC, DAgger, GAIL x {1, 4, 10, 25} demos x 3 seeds
    python experiments/compare.py --methods bc dagger               # the cheap part only (minutes, not hours)
    python experiments/compare.py --methods bc dagger gail dac --num-demos 1 4
    python experiments/compare.py --table-only                      # rebuild table/figure from finished cells

Each (method, demos) cell has its own run folder under --out-dir; finished cells are kept, so rerunning the same
command continues a killed comparison (a GAIL run resumes from its checkpoint). A finished
`experiments/gail.py` run with the same demos, seed and steps can be linked in as a cell
(`ln -s <run> <out-dir>/gail-4demos-s0`). Writes table.md (mean ± std of the normalized score over seeds),
compare.png (score vs demos with error bars) and results.json; the last stdout line is a JSON summary.
On a 2-core CPU: BC ~1 minute per cell, DAgger ~15 minutes per cell, GAIL ~8.5 minutes per seed and cell.
"""

from jirl.cli import run
from jirl.loops.compare import CompareConfig, compare

if __name__ == "__main__":
    run(CompareConfig, compare, __doc__)
