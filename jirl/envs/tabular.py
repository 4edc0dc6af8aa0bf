"""Tabular MDPs with a known reward, for exact inverse RL: gridworlds with slip, and an objectworld.

An MDP is a pytree of arrays (``S`` states, ``A`` actions, ``F`` features):

- ``transitions [S, A, S]``: P(s' | s, a), rows sum to 1;
- ``features [S, F]``: the feature map phi(s) an IRL method sees;
- ``reward [S]``: the true state reward (what IRL tries to recover; never shown to the learner);
- ``init_dist [S]``: the initial-state distribution;

plus static fields: ``horizon`` (an int for finite-horizon problems, ``None`` for infinite-horizon
discounted ones), ``gamma``, and the grid's ``width`` / ``height`` (state ``s = y * width + x``).

The worlds are built once with NumPy from a seed (this module is the env boundary) and stored as jnp arrays.
Actions on a grid: 0 stay, 1 right, 2 left, 3 down, 4 up (down = +y, i.e. the next row of a heatmap). With
probability ``slip`` the intended action is replaced by one drawn uniformly from all five; a move off the
grid leaves the agent in place.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

MOVES = np.array([(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)])  # (dx, dy) per action
ACTION_NAMES = ("stay", "right", "left", "down", "up")


@struct.dataclass
class TabularMDP:
    transitions: jax.Array  # [S, A, S]
    features: jax.Array  # [S, F]
    reward: jax.Array  # [S] true reward
    init_dist: jax.Array  # [S]
    gamma: float = struct.field(pytree_node=False, default=1.0)
    horizon: int | None = struct.field(pytree_node=False, default=None)
    width: int = struct.field(pytree_node=False, default=0)
    height: int = struct.field(pytree_node=False, default=0)
    name: str = struct.field(pytree_node=False, default="mdp")

    @property
    def num_states(self) -> int:
        return self.transitions.shape[0]

    @property
    def num_actions(self) -> int:
        return self.transitions.shape[1]

    @property
    def num_features(self) -> int:
        return self.features.shape[1]

    def as_grid(self, values) -> np.ndarray:
        """``[S]`` values as a ``[height, width]`` image (row y, column x)."""
        return np.asarray(values).reshape(self.height, self.width)


def validate(mdp: TabularMDP, atol: float = 1e-6) -> None:
    """Raise ``ValueError`` when the arrays do not describe an MDP (shapes, probabilities, horizon/discount)."""
    S, A = mdp.num_states, mdp.num_actions
    if mdp.transitions.shape != (S, A, S):
        raise ValueError(f"transitions must be [S, A, S], got {mdp.transitions.shape}")
    if mdp.features.shape[0] != S or mdp.reward.shape != (S,) or mdp.init_dist.shape != (S,):
        raise ValueError("features [S, F], reward [S] and init_dist [S] must share the number of states")
    p = np.asarray(mdp.transitions)
    if (p < -atol).any() or not np.allclose(p.sum(-1), 1.0, atol=atol):
        raise ValueError("each transitions[s, a] must be a probability distribution over next states")
    d = np.asarray(mdp.init_dist)
    if (d < -atol).any() or not np.isclose(d.sum(), 1.0, atol=atol):
        raise ValueError("init_dist must be a probability distribution")
    if mdp.horizon is None and not 0.0 <= mdp.gamma < 1.0:
        raise ValueError("an infinite-horizon MDP (horizon=None) needs 0 <= gamma < 1")
    if mdp.horizon is not None and mdp.horizon < 1:
        raise ValueError("horizon must be >= 1")


def grid_transitions(width: int, height: int, slip: float) -> np.ndarray:
    """``[S, A, S]`` dynamics of a grid with five actions and slip probability ``slip``."""
    if not 0.0 <= slip <= 1.0:
        raise ValueError(f"slip must be in [0, 1], got {slip}")
    S, A = width * height, len(MOVES)
    deterministic = np.zeros((S, A, S))
    for y in range(height):
        for x in range(width):
            for a, (dx, dy) in enumerate(MOVES):
                nx, ny = x + dx, y + dy
                if not (0 <= nx < width and 0 <= ny < height):
                    nx, ny = x, y
                deterministic[y * width + x, a, ny * width + nx] = 1.0
    uniform = deterministic.mean(axis=1, keepdims=True)  # a uniformly random action
    return (1.0 - slip) * deterministic + slip * uniform


def _grid_mdp(size: int, slip: float, features: np.ndarray, reward: np.ndarray, horizon: int | None, gamma: float, kind: str) -> TabularMDP:
    """A ``size x size`` grid MDP with a uniform start. An explicit horizon wins; otherwise ``2 * size`` steps
    when undiscounted and infinite-horizon when ``gamma < 1``."""
    if horizon is None and gamma >= 1.0:
        horizon = 2 * size
    return TabularMDP(
        transitions=jnp.asarray(grid_transitions(size, size, slip), jnp.float32),
        features=jnp.asarray(features, jnp.float32),
        reward=jnp.asarray(reward, jnp.float32),
        init_dist=jnp.full((size * size,), 1.0 / (size * size), jnp.float32),
        gamma=gamma,
        horizon=horizon,
        width=size,
        height=size,
        name=f"{kind}-{size}x{size}",
    )


def _coords(width: int, height: int) -> np.ndarray:
    ys, xs = np.divmod(np.arange(width * height), width)
    return np.stack([xs, ys], axis=-1).astype(np.float64)  # [S, 2]


def grid_features(width: int, height: int, kind: Literal["onehot", "coords", "rbf"]) -> np.ndarray:
    """Feature maps of a grid: ``onehot`` (one indicator per cell, F = S), ``coords`` (x, y scaled to [0, 1]
    and their squares and product, F = 5), ``rbf`` (Gaussian bumps of width 1 cell centred on every other
    cell, F ~ S / 4)."""
    xy = _coords(width, height)
    if kind == "onehot":
        return np.eye(width * height)
    if kind == "coords":
        u = xy / np.maximum(np.array([width - 1, height - 1]), 1)
        return np.concatenate([u, u**2, u[:, :1] * u[:, 1:]], axis=-1)
    if kind == "rbf":
        centres = np.array([(x, y) for y in range(0, height, 2) for x in range(0, width, 2)], dtype=np.float64)
        d2 = ((xy[:, None, :] - centres[None]) ** 2).sum(-1)
        return np.exp(-d2 / 2.0)
    raise ValueError(f"unknown feature map {kind!r}: use onehot, coords or rbf")


def gridworld(
    size: int = 5,
    *,
    slip: float = 0.2,
    features: Literal["onehot", "coords", "rbf"] = "onehot",
    horizon: int | None = None,
    gamma: float = 1.0,
    num_bumps: int = 3,
    seed: int = 0,
) -> TabularMDP:
    """A ``size x size`` grid whose true reward is a sum of Gaussian bumps (``num_bumps``, random centres,
        widths and signed heights drawn from ``seed``), scaled to [-1, 1]; the largest bump is positive. The
        start state is uniform over all cells, so every cell is seen. Without ``horizon`` the problem has
    ``2 * size`` steps when ``gamma == 1`` and is infinite-horizon discounted when ``gamma < 1``."""
    rng = np.random.default_rng(seed)
    xy = _coords(size, size)
    reward = np.zeros(size * size)
    for i in range(num_bumps):
        centre = rng.uniform(0, size - 1, size=2)
        width = rng.uniform(0.5, 0.35 * size)
        height = 1.0 if i == 0 else rng.uniform(-1.0, 0.8)
        reward += height * np.exp(-((xy - centre) ** 2).sum(-1) / (2 * width**2))
    reward = reward / np.abs(reward).max()
    return _grid_mdp(size, slip, grid_features(size, size, features), reward, horizon, gamma, "gridworld")


@dataclasses.dataclass(frozen=True)
class ObjectWorldLayout:
    """Where the objects of an objectworld are and which colours they carry."""

    positions: np.ndarray  # [K, 2] (x, y)
    outer: np.ndarray  # [K] outer colour index
    inner: np.ndarray  # [K] inner colour index


def objectworld(
    size: int = 10,
    *,
    num_objects: int = 12,
    num_colours: int = 2,
    slip: float = 0.2,
    horizon: int | None = None,
    gamma: float = 1.0,
    seed: int = 0,
) -> tuple[TabularMDP, ObjectWorldLayout]:
    """An objectworld in the spirit of Levine et al. (2011): objects with an outer and an inner colour sit on
    random cells. Features are, for every colour, the distance to the nearest object of that outer colour
    and of that inner colour (F = 2 * num_colours). The true reward is nonlinear in them: +1 within 3 cells
    of outer colour 0 and within 2 cells of outer colour 1, -1 within 3 cells of colour 0 only, 0 elsewhere.
    A linear reward on these features cannot represent it; a neural one can."""
    if num_colours < 2 or num_objects < num_colours:
        raise ValueError("objectworld needs at least 2 colours and one object per colour")
    rng = np.random.default_rng(seed)
    cells = rng.choice(size * size, size=num_objects, replace=False)
    positions = np.stack([cells % size, cells // size], axis=-1).astype(np.float64)
    outer = np.concatenate([np.arange(num_colours), rng.integers(0, num_colours, num_objects - num_colours)])
    inner = rng.integers(0, num_colours, num_objects)
    xy = _coords(size, size)
    dist = np.sqrt(((xy[:, None, :] - positions[None]) ** 2).sum(-1))  # [S, K]

    def nearest(mask):
        return np.where(mask[None, :], dist, np.inf).min(axis=1) if mask.any() else np.full(len(xy), 2.0 * size)

    d_outer = np.stack([nearest(outer == c) for c in range(num_colours)], axis=-1)
    d_inner = np.stack([nearest(inner == c) for c in range(num_colours)], axis=-1)
    near0, near1 = d_outer[:, 0] <= 3.0, d_outer[:, 1] <= 2.0
    reward = np.where(near0 & near1, 1.0, np.where(near0, -1.0, 0.0))
    feats = np.concatenate([d_outer, d_inner], axis=-1) / size
    mdp = _grid_mdp(size, slip, feats, reward, horizon, gamma, "objectworld")
    return mdp, ObjectWorldLayout(positions=positions, outer=outer, inner=inner)
