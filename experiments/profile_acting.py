"""Where the time of one PPO acting step goes (the per-env-step cost of collection).

    python experiments/profile_acting.py                 # 8 envs, HalfCheetah-v5, PPO's 64x64 nets
    python experiments/profile_acting.py --num-envs 16 --calls 4000

Times, per call and averaged over --calls calls after a warm-up: a jitted policy call given the parameter
pytree and observation statistics as separate arrays (16 leaves for PPO) and a PRNG key (noise drawn inside
the call), the same with the noise given as an array instead of the key, the same call given one raveled
vector with the step's noise drawn beforehand (jirl's PolicyStepper before it acted on the host), jirl's
PolicyStepper as it acts now (the actor evaluated in NumPy on the host, noise drawn beforehand), a host-side jax.random.split, one
raw Gymnasium env.step, the same step through jirl's direct MuJoCo path (HalfCheetah-v5 only, see
jirl.envs.gym_bridge.direct_step_fn), and VecEnv.step over --num-envs envs. Last stdout line: a JSON summary (microseconds).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from jirl.cli import run
from jirl.loops.common import UserError, machine_description


@dataclasses.dataclass(frozen=True)
class ProfileConfig:
    """Time the pieces of one acting step."""

    env_id: str = "HalfCheetah-v5"
    """Gymnasium env id."""
    num_envs: int = 8
    """Envs per policy call and per VecEnv.step."""
    calls: int = 2000
    """Timed calls per measurement."""


def _per_call_us(fn, calls: int) -> float:
    for _ in range(20):
        fn()
    t = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t) / calls * 1e6


def profile(cfg: ProfileConfig) -> dict:
    import gymnasium as gym
    import jax

    from jirl.algorithms import ppo
    from jirl.envs.gym_bridge import VecEnv, direct_step_fn, quiet_mujoco_warnings
    from jirl.envs.normalize import norm_apply, norm_init
    from jirl.loops.common import stack_trees
    from jirl.loops.ppo import PolicyStepper

    if cfg.num_envs < 1 or cfg.calls < 1:
        raise UserError("--num-envs and --calls must be >= 1")
    try:
        env = VecEnv(cfg.env_id, cfg.num_envs)
    except ValueError as e:
        raise UserError(str(e)) from None
    obs = env.reset(seed=0)
    pcfg = ppo.PPOConfig()
    params = ppo.init(pcfg, jax.random.PRNGKey(0), env.obs_dim, env.action_dim, 1).params
    norm = norm_init(env.obs_dim)
    leaves = len(jax.tree_util.tree_leaves((params, norm)))

    tree_step = jax.jit(lambda p, n, o, k: ppo.sample_action(pcfg, p, norm_apply(n, o), k))
    key = jax.random.PRNGKey(1)

    def pytree_call():
        out = tree_step(params, norm, obs, key)
        [np.asarray(x) for x in out]

    noise_step = jax.jit(lambda p, n, o, z: ppo.action_from_noise(pcfg, p, norm_apply(n, o), z))
    noise = np.zeros((cfg.num_envs, env.action_dim), np.float32)

    def pytree_noise_call():
        out = noise_step(params, norm, obs, noise)
        [np.asarray(x) for x in out]

    steppers = {}
    for host in (False, True):
        steppers[host] = PolicyStepper(dataclasses.replace(pcfg, num_steps=cfg.calls + 20), stack_trees([params]), stack_trees([norm]), cfg.num_envs, host=host)
        steppers[host].load(stack_trees([params]), stack_trees([norm]), key[None])  # one seed; noise for every timed call
    keys = {"k": key}

    def host_split():
        keys["k"], _ = jax.random.split(keys["k"])

    quiet_mujoco_warnings()
    raw = gym.make(cfg.env_id)
    raw.reset(seed=0)
    action = raw.action_space.sample() * 0.0
    direct = direct_step_fn(raw)  # jirl's exact MuJoCo step for HalfCheetah-v5 (None for other envs)
    obs_row = np.zeros(env.obs_dim, np.float32)
    zeros = np.zeros((cfg.num_envs, env.action_dim), np.float32)
    out = {
        "policy_call_pytree_us": _per_call_us(pytree_call, cfg.calls),
        "policy_call_pytree_noise_given_us": _per_call_us(pytree_noise_call, cfg.calls),
        "pytree_leaves": leaves,
        "policy_call_raveled_us": _per_call_us(lambda: steppers[False](obs), cfg.calls),
        "policy_host_numpy_us": _per_call_us(lambda: steppers[True](obs), cfg.calls),
        "host_key_split_us": _per_call_us(host_split, cfg.calls),
        "gym_env_step_us": _per_call_us(lambda: raw.step(action), cfg.calls),
        **({"direct_env_step_us": _per_call_us(lambda: direct(action, obs_row), cfg.calls)} if direct is not None else {}),
        "vecenv_step_us": _per_call_us(lambda: env.step(zeros), max(1, cfg.calls // cfg.num_envs)),
    }
    raw.close()
    env.close()
    out = {k: (round(v, 1) if isinstance(v, float) else v) for k, v in out.items()}
    out["vecenv_step_per_env_us"] = round(out["vecenv_step_us"] / cfg.num_envs, 1)
    return {"env_id": cfg.env_id, "num_envs": cfg.num_envs, **out, "machine": machine_description()}


if __name__ == "__main__":
    run(ProfileConfig, profile, __doc__)
