"""Cameras that turn Pendulum-v1 states into small RGB images, as pure JAX functions.

Third-person imitation needs the expert to be *seen* from another viewpoint than the learner's own. A
:class:`Camera` fixes where the pendulum appears in the frame (pivot position, zoom, roll of the camera),
how thick its rod is and the colours of rod, bob and background; :func:`render_pendulum` rasterizes a batch
of ``Pendulum-v1`` observations ``(cos theta, sin theta, theta_dot)`` with it, anti-aliased (each pixel's
coverage is a smooth function of its distance to the rod), so it is jit-able, vmaps over any batch and runs
inside the training step. Two cameras with different colours and geometry are two domains of the same
behaviour; :data:`EXPERT_CAMERA` and :data:`LEARNER_CAMERA` are the pair the third-person benchmark uses.

Why not MuJoCo's offscreen renderer: it needs an OpenGL context (EGL or OSMesa) that a headless 2-core CI
machine does not reliably have, and rendering on the host per transition would put a NumPy round trip into
every discriminator step. These frames are cheap enough to render for every minibatch.
"""

from __future__ import annotations

import dataclasses

import chex
import jax
import jax.numpy as jnp


@dataclasses.dataclass(frozen=True)
class Camera:
    """How a pendulum is drawn: geometry in pixels of a ``size x size`` frame, colours in [0, 1] RGB."""

    size: int = 16
    """Frame height and width in pixels."""
    pivot: tuple[float, float] = (8.0, 8.0)
    """Pixel (x, y) of the pivot; y grows downwards."""
    length: float = 6.0
    """Rod length in pixels (the zoom)."""
    roll: float = 0.0
    """Roll of the camera in radians: the whole picture is rotated by this angle."""
    width: float = 0.8
    """Half-thickness of the rod in pixels."""
    rod: tuple[float, float, float] = (1.0, 1.0, 1.0)
    bob: tuple[float, float, float] = (1.0, 0.8, 0.2)
    background: tuple[float, float, float] = (0.0, 0.0, 0.3)


EXPERT_CAMERA = Camera()
"""The expert's viewpoint: white rod with a yellow bob on dark blue, centred, upright."""

LEARNER_CAMERA = Camera(pivot=(9.0, 7.5), length=5.5, roll=0.25, width=1.0, rod=(0.9, 0.1, 0.1), bob=(0.1, 0.6, 0.1), background=(0.85, 0.85, 0.8))
"""The learner's viewpoint: red rod with a green bob on light grey, off-centre, zoomed out, camera rolled
by 0.25 rad (14 degrees)."""

RECOLOURED_CAMERA = dataclasses.replace(EXPERT_CAMERA, rod=LEARNER_CAMERA.rod, bob=LEARNER_CAMERA.bob, background=LEARNER_CAMERA.background)
"""The expert's geometry with the learner's colours: a colour-only domain change (the paper's pendulum)."""

LEARNER_VIEWS = {"moved": LEARNER_CAMERA, "recoloured": RECOLOURED_CAMERA}
"""Named learner viewpoints of the third-person benchmark."""


def _coverage(dist: jax.Array, half_width: float) -> jax.Array:
    """Smooth 0..1 ink coverage of a pixel at ``dist`` pixels from a stroke of half-width ``half_width``."""
    return jax.nn.sigmoid(2.5 * (half_width - dist))


def render_pendulum(obs: jax.Array, camera: Camera) -> jax.Array:
    """``obs [..., 3]`` Pendulum-v1 observations ``(cos theta, sin theta, theta_dot)`` (theta = 0 is upright)
    -> RGB frames ``[..., size, size, 3]`` in [0, 1]. The angular velocity is not drawn: a single frame shows
    only the angle, as a camera would."""
    chex.assert_axis_dimension(obs, -1, 3)
    cos_t, sin_t = obs[..., 0], obs[..., 1]
    # rod direction in the picture: theta = 0 points up (-y in pixels), the camera roll turns everything
    cr, sr = jnp.cos(camera.roll), jnp.sin(camera.roll)
    dx, dy = sin_t, -cos_t
    dx, dy = cr * dx - sr * dy, sr * dx + cr * dy
    px, py = camera.pivot
    coords = jnp.arange(camera.size, dtype=jnp.float32) + 0.5
    x = coords[None, :]  # [1, W]
    y = coords[:, None]  # [H, 1]
    # distance of every pixel to the segment pivot -> tip (projection clamped to [0, length])
    rx, ry = x - px, y - py  # [H, W]
    dx, dy = dx[..., None, None], dy[..., None, None]  # [..., 1, 1]
    along = jnp.clip(rx * dx + ry * dy, 0.0, camera.length)
    dist = jnp.sqrt((rx - along * dx) ** 2 + (ry - along * dy) ** 2)
    tip_x, tip_y = px + camera.length * dx, py + camera.length * dy
    bob_dist = jnp.sqrt((x - tip_x) ** 2 + (y - tip_y) ** 2)
    rod = _coverage(dist, camera.width)[..., None]
    bob = _coverage(bob_dist, 1.5 * camera.width + 0.4)[..., None]
    img = jnp.asarray(camera.background) * (1.0 - rod) + jnp.asarray(camera.rod) * rod
    return img * (1.0 - bob) + jnp.asarray(camera.bob) * bob


def render_pairs(obs: jax.Array, next_obs: jax.Array, camera: Camera) -> jax.Array:
    """Two-frame clips ``[..., 2, size, size, 3]`` of transitions (frame t, frame t+1): the multi-time-step
    input of third-person imitation, from which a network can read the angular velocity."""
    return jnp.stack([render_pendulum(obs, camera), render_pendulum(next_obs, camera)], axis=-4)
