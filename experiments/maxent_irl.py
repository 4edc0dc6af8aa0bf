"""Exact MaxEnt IRL (Ziebart et al. 2008) on tabular worlds with a known reward.

    python experiments/maxent_irl.py                              # 5x5 and 10x10 gridworlds + 10x10 objectworld, 3 seeds
    python experiments/maxent_irl.py --worlds grid10 --num-demos 200
    python experiments/maxent_irl.py --deep.hidden 32 32 --deep.iterations 2000

For each world, demonstrations are sampled from the soft-optimal policy of the true reward; the reward is
recovered by soft value iteration + exact visitation frequencies (all jitted, seeds vmapped). Prints a
markdown table (Pearson correlation of recovered and true reward; the true return earned by the optimal
policy of the recovered reward, as a fraction of the optimal return) and writes table.md, results.json and
maxent_irl.png (true vs recovered reward heatmaps, the learned policy, correlation curves) to --run-dir.
The last stdout line is a JSON summary.
"""

from jirl.cli import run
from jirl.loops.maxent_irl import MaxEntIRLExperimentConfig, train

if __name__ == "__main__":
    run(MaxEntIRLExperimentConfig, train, __doc__)
