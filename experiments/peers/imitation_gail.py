"""Peer: imitation's GAIL on HalfCheetah-v5 with an SB3 PPO learner and jirl's benchmark settings: PPO as in
sb3_ppo.py (64x64 tanh, 2048 env steps per round from --num-envs envs, 10 epochs of minibatches of 64,
observations normalized by imitation's NormalizeFeaturesExtractor), a 64x64 tanh discriminator on
(state, action) with a RunningNorm input layer, --disc-steps Adam steps per round (learning rate 3e-4) on
--disc-batch expert plus --disc-batch policy samples each, and the first --num-demos episodes of jirl's
demonstrations (.npz, read with numpy, no pickles). The first --warmup-rollouts rounds are not timed; the
window runs from the end of the last warm-up round (after its discriminator steps) to the end of the last
round. Runs in the peers' virtual environment (see experiments/peer_benchmark.py):

    .peers-venv/bin/python experiments/peers/imitation_gail.py --demos jirl/experts/HalfCheetah-v5/demos.npz --measure-rollouts 2

Last stdout line: JSON with env_steps_per_s, measured_steps and the installed versions.
"""

import shutil
import sys
import tempfile
import time

import numpy as np
from _common import check_rollout_args, finish, parser, setup_torch
from sb3_ppo import make_ppo


def load_trajectories(path: str, num: int):
    """The first ``num`` episodes of a jirl demonstrations file as imitation ``Trajectory`` objects
    (observations ``[T + 1, obs_dim]``: the episode's states plus its final next state)."""
    from imitation.data.types import Trajectory

    with np.load(path, allow_pickle=False) as z:
        obs, act, next_obs, term = z["observations"], z["actions"], z["next_observations"], z["terminated"]
        starts = [int(s) for s in z["episode_starts"]]
    if num < 1 or num > len(starts):
        sys.exit(f"error: --num-demos must be in 1..{len(starts)} for {path}")
    ends = starts[1:] + [len(act)]
    return [
        Trajectory(obs=np.concatenate([obs[s:e], next_obs[e - 1 : e]]), acts=act[s:e], infos=None, terminal=bool(term[e - 1]))
        for s, e in zip(starts[:num], ends[:num], strict=True)
    ]


def main(args) -> None:
    import gymnasium as gym
    import torch
    from imitation.algorithms.adversarial.gail import GAIL
    from imitation.policies.base import NormalizeFeaturesExtractor
    from imitation.rewards.reward_nets import BasicRewardNet
    from imitation.util import logger as imit_logger
    from imitation.util.networks import RunningNorm
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv

    setup_torch(args)
    n_steps = check_rollout_args(args)
    demos = load_trajectories(args.demos, args.num_demos)
    venv = make_vec_env(lambda: gym.make(args.env_id), n_envs=args.num_envs, seed=args.seed, vec_env_cls=DummyVecEnv)
    learner = make_ppo(venv, n_steps, args.seed, {"features_extractor_class": NormalizeFeaturesExtractor})
    disc = BasicRewardNet(venv.observation_space, venv.action_space, hid_sizes=(64, 64), activation=torch.nn.Tanh, normalize_input_layer=RunningNorm)
    log_dir = tempfile.mkdtemp(prefix="jirl-peer-imitation-")
    trainer = GAIL(
        demonstrations=demos,
        demo_batch_size=args.disc_batch,
        venv=venv,
        gen_algo=learner,
        reward_net=disc,
        n_disc_updates_per_round=args.disc_steps,
        disc_opt_kwargs={"lr": 3e-4},
        allow_variable_horizon=False,
        log_dir=log_dir,
        custom_logger=imit_logger.configure(log_dir, format_strs=[]),  # no per-round tables on stdout
    )
    assert trainer.gen_train_timesteps == 2048, trainer.gen_train_timesteps
    marks: dict[int, float] = {}
    rounds = args.warmup_rollouts + args.measure_rollouts
    trainer.train(rounds * 2048, callback=lambda r: marks.__setitem__(r, time.perf_counter()))
    start, end = marks[args.warmup_rollouts - 1], marks[rounds - 1]
    shutil.rmtree(log_dir, ignore_errors=True)
    finish(
        "imitation GAIL",
        args.measure_rollouts * 2048,
        end - start,
        num_envs=args.num_envs,
        warmup_rollouts=args.warmup_rollouts,
        disc_steps=args.disc_steps,
        disc_batch=args.disc_batch,
        num_demos=args.num_demos,
    )


if __name__ == "__main__":
    p = parser(__doc__, rollouts=True)
    p.add_argument("--demos", required=True, help="jirl demonstrations .npz (observations, actions, next_observations, terminated, episode_starts)")
    p.add_argument("--num-demos", type=int, default=4, help="expert episodes used (the first ones)")
    p.add_argument("--disc-steps", type=int, default=8, help="discriminator steps per 2048-step round")
    p.add_argument("--disc-batch", type=int, default=256, help="expert samples (and as many policy samples) per discriminator step")
    main(p.parse_args())
