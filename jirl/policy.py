"""Exported policies: a small msgpack file (no pickle) holding an actor's parameters, the observation
normalizer it was trained with, and metadata (env id, network sizes, how it was made).

``load_policy(path)`` returns a :class:`Policy`, a callable ``obs [N, obs_dim] -> actions [N, A]`` in
``[-1, 1]`` (deterministic: ``tanh(mean)``), usable by ``experiments/evaluate.py``, ``collect.py`` and as the
expert labeller of DAgger.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import serialization

from jirl.envs.normalize import RunningNorm, norm_apply
from jirl.nets import GaussianActor, TanhGaussianActor

FORMAT = "jirl-policy-v1"
KINDS = ("tanh_gaussian", "gaussian")


@dataclasses.dataclass
class Policy:
    kind: str
    params: Any
    hidden: tuple[int, ...]
    obs_dim: int
    action_dim: int
    norm: RunningNorm | None
    meta: dict

    def __post_init__(self):
        if self.kind == "tanh_gaussian":
            module = TanhGaussianActor(self.hidden, self.action_dim)
            squash = jnp.tanh
        else:
            module = GaussianActor(self.hidden, self.action_dim)
            squash = lambda m: jnp.clip(m, -1.0, 1.0)

        def det(params, norm, obs):
            mean, _ = module.apply(params, norm_apply(norm, obs))
            return squash(mean)

        self._act = jax.jit(det)

    @property
    def env_id(self) -> str | None:
        return self.meta.get("env_id")

    def __call__(self, obs) -> np.ndarray:
        obs = jnp.asarray(obs, jnp.float32)
        single = obs.ndim == 1
        out = self._act(self.params, self.norm, obs[None] if single else obs)
        return np.asarray(out[0] if single else out)


def policy_to_bytes(kind: str, params: Any, hidden, obs_dim: int, action_dim: int, norm: RunningNorm | None, meta: dict) -> bytes:
    if kind not in KINDS:
        raise ValueError(f"unknown policy kind {kind!r}; expected one of {KINDS}")
    payload = {
        "format": FORMAT,
        "kind": kind,
        "hidden": list(hidden),
        "obs_dim": int(obs_dim),
        "action_dim": int(action_dim),
        "params": serialization.to_state_dict(jax.device_get(params)),
        "norm": None if norm is None else {"mean": np.asarray(norm.mean), "var": np.asarray(norm.var), "count": np.asarray(norm.count)},
        "meta": json.dumps(meta),
    }
    return serialization.msgpack_serialize(payload)


def load_policy(path: str | os.PathLike) -> Policy:
    """Load a policy file written by :func:`policy_to_bytes`; a ``ValueError`` with one line if it is not one."""
    try:
        with open(path, "rb") as f:
            payload = serialization.msgpack_restore(f.read())
    except FileNotFoundError:
        raise ValueError(f"policy file {path} does not exist") from None
    except Exception as e:  # msgpack raises several unrelated types on garbage
        raise ValueError(f"{path} is not a jirl policy file (msgpack decode failed: {type(e).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path} is not a jirl policy file (format tag missing; expected {FORMAT})")
    norm = payload["norm"]
    if norm is not None:
        norm = RunningNorm(mean=jnp.asarray(norm["mean"]), var=jnp.asarray(norm["var"]), count=jnp.asarray(norm["count"]))
    params = jax.tree_util.tree_map(jnp.asarray, payload["params"])
    return Policy(
        kind=payload["kind"],
        params=params,
        hidden=tuple(int(h) for h in payload["hidden"]),
        obs_dim=int(payload["obs_dim"]),
        action_dim=int(payload["action_dim"]),
        norm=norm,
        meta=json.loads(payload["meta"]),
    )
