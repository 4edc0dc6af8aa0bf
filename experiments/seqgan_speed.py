"""Where the time of a SeqGAN run goes, and how the seeds should share the program: times the pieces of
``python experiments/seqgan.py`` (jirl/loops/seqgan.py) for K seeds batched with ``jax.vmap`` and with
``jax.lax.map`` (--seed-batching of seqgan.py).

    python experiments/seqgan_speed.py                            # vocabulary 5,000, 3 seeds (~9 minutes on a 2-core AVX2 EPYC)
    python experiments/seqgan_speed.py --model.vocab 1000 --num-seeds 1 --batchings map

First the sampler alone: one token for each of --num-negatives rows of random logits over the vocabulary, by
the two-level inversion jirl uses and by the one-level one it used before (jirl.algorithms.seqgan). Then the
pieces, each one jitted call over all seeds (compiled first, then --repeats calls timed, the best kept):
sampling --num-negatives sequences; one policy-gradient generator step (64 sequences, Monte Carlo rollouts of
every prefix scored by the discriminator); one discriminator round (fresh negatives, --d-epochs passes); one MLE
epoch over the corpus. The last column estimates one adversarial epoch of seqgan.py from them (MLE epoch +
--g-steps generator steps + --d-rounds discriminator rounds). Last stdout line: a JSON summary.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Literal

from jirl.algorithms import seqgan as sg
from jirl.cli import run
from jirl.loops import seqgan as loop
from jirl.loops.common import UserError, machine_description


@dataclasses.dataclass(frozen=True)
class SeqGANSpeedConfig:
    """Time the pieces of a SeqGAN run with the seeds vmapped and mapped."""

    num_seeds: int = 3
    """Seeds K in the program."""
    batchings: tuple[Literal["vmap", "map"], ...] = ("vmap", "map")
    """Seed batchings to compare (see --seed-batching of seqgan.py)."""
    repeats: int = 2
    """Timed calls per piece after the compiling one (the best is reported)."""
    g_steps: int = 3
    """Generator steps per adversarial epoch, for the estimate (seqgan.py's default)."""
    d_rounds: int = 3
    """Discriminator rounds per adversarial epoch, for the estimate (seqgan.py's default)."""
    d_epochs: int = 3
    """Passes per discriminator round (seqgan.py's default)."""
    num_negatives: int = 5_000
    """Generated sequences per discriminator round (seqgan.py's default)."""
    model: sg.SeqGANConfig = sg.SeqGANConfig()


def _best_s(fn, args, repeats: int) -> float:
    import jax

    jax.block_until_ready(fn(*args))  # compile
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - t)
    return best


def measure(cfg: SeqGANSpeedConfig) -> dict:
    import jax

    if min(cfg.num_seeds, cfg.repeats, cfg.num_negatives) < 1 or min(cfg.g_steps, cfg.d_rounds, cfg.d_epochs) < 0:
        raise UserError("--num-seeds, --repeats and --num-negatives must be >= 1; step and round counts >= 0")
    if not cfg.batchings:
        raise UserError("--batchings needs at least one of vmap, map")
    run_cfg = loop.SeqGANRunConfig(num_seeds=cfg.num_seeds, num_negatives=cfg.num_negatives, d_epochs=cfg.d_epochs, model=cfg.model)
    loop.check_config(run_cfg)
    m = cfg.model

    def sample_negatives(c, state, key):
        return sg.sample(m, state["mle"].params, key, c.num_negatives)

    def g_step(c, state, key):
        return sg.generator_pg_step(m, state["adv"], state["roll"], state["disc"].params, key)

    def d_round(c, state, key):
        return loop.disc_round(c, state["disc"], state, state["adv"].params, key)

    def mle_epoch(c, state, key):
        return sg.mle_epoch(m, state["mle"], state["corpus"], key)

    logits = 3.0 * jax.random.normal(jax.random.PRNGKey(0), (cfg.num_negatives, m.vocab))
    sampler_ms = {
        name: round(1000 * _best_s(jax.jit(f), (jax.random.PRNGKey(1), logits), max(cfg.repeats, 5)), 2)
        for name, f in (("two_level", sg.sample_categorical), ("one_level", sg.sample_categorical_flat))
    }
    pieces = {"sample_negatives": sample_negatives, "generator_step": g_step, "disc_round": d_round, "mle_epoch": mle_epoch}
    rows = {}
    for how in cfg.batchings:
        c = dataclasses.replace(run_cfg, seed_batching=how)
        state = jax.jit(loop.per_seed(c, loop.split_branches))(jax.jit(loop.per_seed(c, loop.init_seed))(loop.seed_keys(c, 0, 0)))
        keys = loop.seed_keys(c, 4, 0)
        rows[how] = {name: round(_best_s(jax.jit(loop.per_seed(c, f)), (state, keys), cfg.repeats), 3) for name, f in pieces.items()}
        r = rows[how]
        r["adversarial_epoch_estimate"] = round(r["mle_epoch"] + cfg.g_steps * r["generator_step"] + cfg.d_rounds * r["disc_round"], 2)
    names = list(pieces) + ["adversarial_epoch_estimate"]
    print(f"sampler, {cfg.num_negatives} draws over {m.vocab} tokens (ms): two-level {sampler_ms['two_level']}, one-level {sampler_ms['one_level']}")
    print(f"{cfg.num_seeds} seeds, vocabulary {m.vocab}, seconds per call (best of {cfg.repeats}), {machine_description()}:")
    print("| seeds batched by | " + " | ".join(names) + " |")
    print("| --- |" + " --- |" * len(names))
    for how, r in rows.items():
        print(f"| {how} | " + " | ".join(f"{r[n]:.2f}" for n in names) + " |")
    return {"sampler_ms": sampler_ms, "seconds": rows, "num_seeds": cfg.num_seeds, "vocab": m.vocab, "jax_backend": jax.default_backend(), "machine": machine_description()}


if __name__ == "__main__":
    run(SeqGANSpeedConfig, measure, __doc__)
