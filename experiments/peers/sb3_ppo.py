"""Peer: Stable-Baselines3 PPO on HalfCheetah-v5 with jirl's benchmark settings: 64x64 tanh policy and value
nets, 2048 env steps per rollout (--num-envs envs in a DummyVecEnv, 2048/num_envs steps each), 10 epochs of
minibatches of 64, observations and rewards normalized (VecNormalize, as jirl's PPO), learning rate annealed
linearly, no evaluation. The first --warmup-rollouts rollouts are not timed; the window runs from the start of
the next rollout's collection to the end of the last update. Runs in the peers' virtual environment (see
experiments/peer_benchmark.py):

    .peers-venv/bin/python experiments/peers/sb3_ppo.py --measure-rollouts 2

Last stdout line: JSON with env_steps_per_s, measured_steps and the installed versions.
"""

import time

from _common import check_rollout_args, finish, parser, rollout_marker, setup_torch


def make_ppo(venv, n_steps: int, seed: int, policy_kwargs: dict | None = None):
    """SB3 PPO with the shared on-policy settings (also GAIL's learner)."""
    from stable_baselines3 import PPO

    return PPO(
        "MlpPolicy",
        venv,
        learning_rate=lambda progress_remaining: 3e-4 * progress_remaining,
        n_steps=n_steps,
        batch_size=64,
        n_epochs=10,
        gamma=0.99,
        gae_lambda=0.95,
        clip_range=0.2,
        ent_coef=0.0,
        vf_coef=0.5,
        max_grad_norm=0.5,
        policy_kwargs={"net_arch": {"pi": [64, 64], "vf": [64, 64]}, **(policy_kwargs or {})},
        seed=seed,
        verbose=0,
    )


def main(args) -> None:
    import gymnasium as gym
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    setup_torch(args)
    n_steps = check_rollout_args(args)
    venv = VecNormalize(make_vec_env(lambda: gym.make(args.env_id), n_envs=args.num_envs, seed=args.seed, vec_env_cls=DummyVecEnv), gamma=0.99)
    model = make_ppo(venv, n_steps, args.seed)
    start = args.warmup_rollouts * 2048
    marker = rollout_marker(start)
    model.learn(total_timesteps=start + args.measure_rollouts * 2048, callback=marker)
    end = time.perf_counter()
    finish("SB3 PPO", model.num_timesteps - start, end - marker.start, num_envs=args.num_envs, warmup_rollouts=args.warmup_rollouts)


if __name__ == "__main__":
    main(parser(__doc__, rollouts=True).parse_args())
