"""Peer: sbx (Stable-Baselines in JAX) SAC on HalfCheetah-v5 with jirl's benchmark settings (256x256 actor
and twin critics, batch 256, one gradient update per env step, one env), timed over the steps after learning
starts and a warm-up (which holds sbx's compilation). Runs in the peers' virtual environment (see
experiments/peer_benchmark.py):

    .peers-venv/bin/python experiments/peers/sbx_sac.py --measure-steps 2000

Last stdout line: JSON with env_steps_per_s, measured_steps and the installed versions.
"""

from _common import parser, run_sac

if __name__ == "__main__":
    from sbx import SAC

    run_sac(SAC, "sbx SAC", parser(__doc__, rollouts=False).parse_args())
