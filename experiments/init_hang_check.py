"""Does a jitted, vmapped network initialization hang on this machine? (the XLA:CPU batched-QR deadlock)

    python experiments/init_hang_check.py --init flax     # flax's LAPACK-based orthogonal init
    python experiments/init_hang_check.py --init jirl     # jirl.nets.orthogonal (plain XLA ops)

Each try is a fresh Python process that calls ``jit(vmap(init))`` of a 256x256 tanh-Gaussian actor for
--num-seeds seeds --calls times; a try that has not finished after --timeout seconds counts as a hang and is
killed. Last stdout line: a JSON summary with the number of hangs.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from typing import Literal

from jirl.cli import run
from jirl.loops.common import UserError, machine_description

CODE = """
import flax.linen as nn, jax, jax.numpy as jnp
from jirl import nets
init_fn = nets.orthogonal if {init!r} == "jirl" else nn.initializers.orthogonal
nets.default_init = lambda scale=jnp.sqrt(2.0): init_fn(scale)
actor = nets.TanhGaussianActor((256, 256), 6)
init = jax.jit(jax.vmap(lambda k: actor.init(k, jnp.zeros((1, 17)))))
for i in range({calls}):
    jax.block_until_ready(init(jax.vmap(jax.random.PRNGKey)(jnp.arange({num_seeds}) + i)))
"""


@dataclasses.dataclass(frozen=True)
class HangConfig:
    """Count hangs of a jitted, vmapped network initialization."""

    init: Literal["flax", "jirl"] = "flax"
    """Orthogonal initializer: flax's (LAPACK QR) or jirl's."""
    tries: int = 3
    """Fresh processes to run."""
    calls: int = 300
    """Initializations per try."""
    num_seeds: int = 3
    """Seeds per vmapped initialization."""
    timeout: float = 60.0
    """Seconds after which a try counts as hung."""


def check(cfg: HangConfig) -> dict:
    if cfg.tries < 1 or cfg.calls < 1 or cfg.num_seeds < 1 or cfg.timeout <= 0:
        raise UserError("--tries, --calls, --num-seeds and --timeout must be positive")
    code = CODE.format(init=cfg.init, calls=cfg.calls, num_seeds=cfg.num_seeds)
    hangs, errors = 0, 0
    for t in range(cfg.tries):
        try:
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=cfg.timeout)
            errors += out.returncode != 0
            status = "ok" if out.returncode == 0 else f"error: {out.stderr.strip().splitlines()[-1:]}"
        except subprocess.TimeoutExpired:
            hangs += 1
            status = f"hung (no finish in {cfg.timeout:g} s)"
        print(f"try {t + 1}/{cfg.tries}: {status}", flush=True)
    return {"init": cfg.init, "tries": cfg.tries, "hangs": hangs, "errors": errors, "calls": cfg.calls, "num_seeds": cfg.num_seeds,
            "timeout_s": cfg.timeout, "machine": machine_description()}


if __name__ == "__main__":
    run(HangConfig, check, __doc__)
