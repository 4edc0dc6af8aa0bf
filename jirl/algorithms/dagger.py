"""DAgger (Ross, Gordon & Bagnell 2011): the pieces of one round.

A round rolls out a beta-mixture of expert and learner (at each step the expert's action is taken with
probability ``beta``), labels **every visited state with the expert's action** (whoever acted), and
aggregates those pairs into the dataset the learner is retrained on. ``beta`` decays geometrically over the
rounds (:func:`beta_schedule`), so later rounds visit the learner's own state distribution.

The expert is any callable ``obs [N, D] -> actions [N, A]`` in [-1, 1] (the shipped SAC policy by default;
another policy or a person behind a callable plugs in the same way). :func:`collect_round` is the only
function here that touches an environment: any object with jirl's ``VecEnv.step`` interface. It is a
driver over NumPy arrays, not a jitted function; the retraining is :func:`jirl.algorithms.bc.fit`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def beta_schedule(round_idx: int, beta0: float, decay: float) -> float:
    """``beta_i = beta0 * decay ** (i - 1)`` for rounds ``i >= 1`` (round 0 is BC on the demonstrations)."""
    if round_idx < 1:
        raise ValueError("DAgger rounds are numbered from 1")
    return float(beta0 * decay ** (round_idx - 1))


def mixture_actions(learner_actions: np.ndarray, expert_actions: np.ndarray, beta: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per env, the expert's action with probability ``beta``, else the learner's. ``[N, A]`` each ->
    ``(actions [N, A], expert_acted [N] bool)``."""
    if learner_actions.shape != expert_actions.shape:
        raise ValueError(f"learner actions {learner_actions.shape} and expert actions {expert_actions.shape} differ in shape")
    expert_acted = rng.random(learner_actions.shape[0]) < beta
    return np.where(expert_acted[:, None], expert_actions, learner_actions), expert_acted


def collect_round(
    env, obs: np.ndarray, learner: Callable, expert: Callable, beta: float, num_steps: int, rng: np.random.Generator, noise_std: float = 0.0
):
    """Step ``env`` (N envs, autoreset) ``num_steps`` times from ``obs`` with the beta-mixture policy.

    ``noise_std > 0`` adds Gaussian noise to the executed action (clipped to [-1, 1]), so the rollouts also visit
    states next to the learner's own, where a small error would take it; the labels stay the expert's noise-free
    actions. Returns ``(states [N, T, D], expert_labels [N, T, A], next obs [N, D], share of expert actions)``: the
    states the mixture visited and the expert's action in each of them."""
    states, labels, expert_count = [], [], 0
    for _ in range(num_steps):
        a_expert = np.clip(np.asarray(expert(obs), np.float32), -1.0, 1.0)
        a_learner = np.clip(np.asarray(learner(obs), np.float32), -1.0, 1.0)
        action, expert_acted = mixture_actions(a_learner, a_expert, beta, rng)
        if noise_std > 0:
            action = np.clip(action + noise_std * rng.standard_normal(action.shape), -1.0, 1.0).astype(np.float32)
        states.append(obs.copy())
        labels.append(a_expert)
        expert_count += int(expert_acted.sum())
        obs = env.step(action).obs
    share = expert_count / (num_steps * obs.shape[0])
    return np.stack(states, axis=1), np.stack(labels, axis=1), obs, share


def aggregate(data_obs: np.ndarray, data_act: np.ndarray, new_obs: np.ndarray, new_act: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Append new (state, expert label) pairs to the dataset along the sample axis (axis -2); a leading
    seed axis, if any, is kept: ``[..., N, D] + [..., M, D] -> [..., N + M, D]``."""
    if data_obs.shape[:-2] != new_obs.shape[:-2] or data_obs.shape[-1] != new_obs.shape[-1] or data_act.shape[-1] != new_act.shape[-1]:
        raise ValueError(f"cannot aggregate {new_obs.shape}/{new_act.shape} into {data_obs.shape}/{data_act.shape}")
    return np.concatenate([data_obs, new_obs], axis=-2), np.concatenate([data_act, new_act], axis=-2)
