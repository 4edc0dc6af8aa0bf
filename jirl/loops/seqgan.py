"""SeqGAN's synthetic-oracle experiment (Yu et al. 2017, section 5), several seeds in one compiled program.

Per seed: a randomly initialized LSTM *oracle* writes the training corpus; a generator is pre-trained by
maximum likelihood (MLE, i.e. behaviour cloning of the oracle's "trajectories"); a CNN discriminator is
pre-trained on corpus vs generated sequences. Then the run splits in two branches from the same generator:

- **MLE**: maximum-likelihood epochs over the corpus continue for as many epochs as the adversarial phase;
- **SeqGAN**: each adversarial epoch is ``g_steps`` policy-gradient updates (rewards from Monte Carlo rollouts
  scored by the discriminator) followed by ``d_rounds`` rounds of discriminator training on fresh samples.

The metric is the oracle's negative log-likelihood per token of sequences sampled from each generator
(``NLL_oracle``, lower = closer to the oracle's typical output). Alongside it we record ``NLL_test``: the
generator's own NLL per token on held-out oracle sequences (lower = it covers the oracle's distribution); an
adversarial gain in ``NLL_oracle`` that comes from sharpening the generator shows up there as a loss.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from pathlib import Path
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np

from jirl.algorithms import seqgan as sg
from jirl.fileio import atomic_write_bytes, save_figure
from jirl.loops.common import (
    UserError,
    check_finite,
    check_ranges,
    config_to_dict,
    load_checkpoint,
    machine_description,
    prepare_run_dir,
    progress_bar,
    save_checkpoint,
)


@dataclasses.dataclass(frozen=True)
class SeqGANRunConfig:
    """SeqGAN vs continued maximum likelihood on a synthetic LSTM oracle; all seeds in one compiled program."""

    num_seeds: int = 3
    """Independent runs (each with its own oracle, corpus and initializations), trained together in one compiled
    program (see --seed-batching)."""
    seed: int = 0
    """First seed; seeds are seed, seed+1, ..."""
    num_train: int = 10_000
    """Oracle sequences in the training corpus (the paper: 10,000)."""
    num_eval: int = 2_000
    """Sequences sampled per evaluation to estimate NLL_oracle (and held-out oracle sequences for NLL_test)."""
    oracle_std: float = 1.0
    """Standard deviation of the oracle's random parameters (the paper: N(0, 1))."""
    pretrain_epochs: int = 20
    """MLE epochs over the corpus before the split. At vocabulary 5,000 MLE's NLL_oracle has plateaued by epoch 20
    (3 seeds: 9.012 at 20, 8.998 at 50) while its NLL_test rises from epoch 5 on (the corpus is overfitted); the paper
    pre-trains longer."""
    d_pretrain_rounds: int = 10
    """Discriminator pre-training rounds, each on fresh generated negatives for --d-epochs epochs."""
    adv_epochs: int = 5
    """Epochs after the split: SeqGAN adversarial epochs, and as many MLE epochs for the MLE branch. At vocabulary 5,000
    SeqGAN's margin over MLE is reached within ~5 epochs and does not grow after (3 seeds: 0.192 after 5, 0.189 after 10;
    README); the paper runs 200 epochs of one generator step."""
    g_steps: int = 3
    """Policy-gradient generator updates per adversarial epoch (the paper: 1, with 200 adversarial epochs; 3 reach
    in 5 epochs the NLL_oracle that 1 reaches in 20-25, README)."""
    d_rounds: int = 3
    """Discriminator rounds per adversarial epoch, each on fresh negatives (the paper: 5)."""
    d_epochs: int = 3
    """Passes over (corpus, negatives) per discriminator round (the paper: 3)."""
    num_negatives: int = 5_000
    """Generated sequences per discriminator round (paired with as many corpus sequences per pass)."""
    d_positives: Literal["corpus", "oracle"] = "corpus"
    """Positives of the discriminator: corpus = training-corpus sequences (SeqGAN); oracle = fresh oracle samples (a diagnostic,
    not a fair comparison: the generators never see more than the corpus; it shows what the reward is worth without memorization)."""
    eval_every: int = 5
    """Evaluate both branches every this many epochs."""
    temperatures: tuple[float, ...] = (1.0, 0.95, 0.9, 0.85, 0.8)
    """At the end, the MLE generator is also scored at these sampling temperatures (logits / T): a sharper
    generator lowers NLL_oracle and raises NLL_test, and SeqGAN is fairly compared against that trade-off."""
    bigram_products: tuple[float, ...] = (0.2, 0.35, 0.5, 0.7)
    """With --model.disc bigram, at the end the MLE generator is also scored as a product with the same bigram model,
    next-token log-probabilities (1 - w) log G + w log q renormalized, for each weight w: a non-adversarial use of
    the bigram model, to set SeqGAN's gain against (results.json: mle_bigram_product_sweep)."""
    checkpoint_every: int = 5
    """Write a resumable checkpoint every this many epochs."""
    run_dir: str = "runs/seqgan"
    """Output folder: curves.jsonl, results.json, seqgan.png, checkpoint."""
    resume: bool = False
    """Continue the run in --run-dir from its last checkpoint."""
    seed_batching: Literal["auto", "vmap", "map"] = "auto"
    """How the seeds share the program: vmap = one batched computation (best on a GPU); map = jax.lax.map, one
    seed after the other inside the compiled program (on a 2-core AVX2 AMD EPYC an adversarial epoch of 3 seeds at
    vocabulary 5,000 takes ~102 s instead of ~148 s: XLA:CPU runs the vmapped program slower than the same work
    seed by seed, for reasons not profiled; experiments/seqgan_speed.py, README); auto = map on a CPU, vmap elsewhere.
    Same computation either way, up to float rounding."""
    model: sg.SeqGANConfig = sg.SeqGANConfig()


def check_config(cfg: SeqGANRunConfig) -> None:
    m = cfg.model
    if min(cfg.num_seeds, cfg.num_train, cfg.num_eval, cfg.num_negatives, cfg.eval_every, cfg.checkpoint_every) < 1:
        raise UserError("--num-seeds, --num-train, --num-eval, --num-negatives, --eval-every and --checkpoint-every must be >= 1")
    if min(cfg.pretrain_epochs, cfg.d_pretrain_rounds, cfg.adv_epochs, cfg.g_steps, cfg.d_rounds, cfg.d_epochs) < 0:
        raise UserError("epoch, round and step counts must be >= 0")
    if m.vocab < 2 or m.seq_len < 2 or m.num_rollouts < 1:
        raise UserError("--model.vocab and --model.seq-len must be >= 2 and --model.num-rollouts >= 1")
    if min(cfg.num_train, cfg.num_negatives) < m.batch_size:
        raise UserError(f"--num-train and --num-negatives must be at least --model.batch-size ({m.batch_size})")
    check_ranges("model", m, {
        "emb": ">=1", "hidden": ">=1", "batch_size": ">=1", "mle_lr": ">0", "pg_lr": ">0", "max_grad_norm": ">0", "rollout_decay": "[0,1]",
        "d_emb": ">=1", "d_lr": ">0", "d_dropout": "[0,1)", "d_l2": ">=0",
    })
    if m.disc != "cnn" and m.d_dropout > 0:
        raise UserError("--model.d-dropout applies to the cnn discriminator only; drop it or use --model.disc cnn")
    if any(not 0.0 <= w <= 1.0 for w in cfg.bigram_products):
        raise UserError("--bigram-products are weights in [0, 1]")
    if m.disc == "bigram":
        if m.d_l2 > 0:
            raise UserError("--model.d-l2 applies to trained discriminators; the bigram one is counted: drop --model.d-l2")
        if cfg.d_positives != "corpus":
            raise UserError("the bigram discriminator is counted from the training corpus once: drop --d-positives oracle")
        if m.vocab > sg.BIGRAM_MAX_VOCAB:
            raise UserError(f"--model.disc bigram supports --model.vocab up to {sg.BIGRAM_MAX_VOCAB:,} (int32 token-pair keys)")
    if not m.d_filters or min(min(w, n) for w, n in m.d_filters) < 1:
        raise UserError("--model.d-filters needs one or more (width, filters) pairs, all >= 1")
    if max(w for w, _ in m.d_filters) > m.seq_len:
        raise UserError("every --model.d-filters width must be <= --model.seq-len")


# ---------------------------------------------------------------------------------------------------------
# Per-seed pure phases (batched over seeds below, see per_seed).


def init_seed(cfg: SeqGANRunConfig, key):
    m = cfg.model
    ko, kc, kh, kg, kd = jax.random.split(key, 5)
    oracle = sg.init_oracle(m, ko, cfg.oracle_std)
    gen_params = sg.init_generator(m, kg)
    corpus = sg.sample(m, oracle, kc, cfg.num_train)
    d_params = sg.init_discriminator(m, kd, corpus)
    d_opt_state = () if m.disc == "bigram" else sg.disc_optimizer(m).init(d_params)  # counted, never trained
    mle = sg.Learner(params=gen_params, opt_state=sg.mle_optimizer(m).init(gen_params))
    return {
        "oracle": oracle,
        "corpus": corpus,
        "heldout": sg.sample(m, oracle, kh, cfg.num_eval),
        "mle": mle,  # the MLE branch (and the generator before the split)
        "adv": mle,  # the SeqGAN branch (set at the split)
        "roll": gen_params,
        "disc": sg.Learner(params=d_params, opt_state=d_opt_state),
    }


def evaluate_seed(cfg: SeqGANRunConfig, state, key) -> dict:
    """NLL_oracle and NLL_test of both branches, and the discriminator's mean logit on training-corpus sequences,
    on held-out oracle sequences and on the SeqGAN generator's samples. A discriminator that generalizes scores
    held-out oracle sequences like the corpus; one that memorizes the corpus scores them like generated ones,
    and its reward then carries little information about being oracle-like (README). The
    ``reward_rank_corr_*`` entries (:func:`jirl.algorithms.seqgan.reward_alignment`) measure that directly on
    the SeqGAN generator's samples."""
    m = cfg.model
    out = {"oracle_own": sg.nll(m, state["oracle"], state["heldout"])}
    samples, log_p_oracle = {}, {}  # each branch's samples and their per-token log-likelihood under the oracle
    for name, k in zip(("mle", "adv"), jax.random.split(key), strict=True):
        params = state[name].params
        samples[name] = sg.sample(m, params, k, cfg.num_eval)
        log_p_oracle[name] = sg.token_log_probs(m, state["oracle"], samples[name])
        out[f"{name}_nll_oracle"] = -log_p_oracle[name].mean()  # = sg.nll(m, oracle, samples)
        out[f"{name}_nll_test"] = sg.nll(m, params, state["heldout"])
    d = state["disc"].params
    g = state["adv"].params  # the generator inside an lm-ratio discriminator
    d_generated = sg.disc_logits(m, d, samples["adv"], g)
    out["d_logit_corpus"] = sg.disc_logits(m, d, state["corpus"][: cfg.num_eval], g).mean()
    out["d_logit_heldout"] = sg.disc_logits(m, d, state["heldout"], g).mean()
    out["d_logit_generated"] = d_generated.mean()
    log_p_gen = sg.token_log_probs(m, state["adv"].params, samples["adv"]).sum(-1)
    align = sg.reward_alignment(d_generated, log_p_oracle["adv"].sum(-1), log_p_gen)
    out.update({f"reward_rank_corr_{k}": v for k, v in align.items()})
    return out


def temperature_sweep(cfg: SeqGANRunConfig, state, key) -> dict:
    """NLL_oracle and NLL_test of the MLE branch sampled at each of ``cfg.temperatures``: ``{name: [T]}``; with
    ``--model.disc bigram`` also of its product with the bigram model at each of ``cfg.bigram_products``
    (``product_nll_oracle``, ``product_nll_test``)."""
    m, p = cfg.model, state["mle"].params
    oracle = [sg.nll(m, state["oracle"], sg.sample(m, p, key, cfg.num_eval, temperature=t)) for t in cfg.temperatures]
    test = [sg.nll(m, p, state["heldout"], temperature=t) for t in cfg.temperatures]
    out = {"nll_oracle": jnp.stack(oracle), "nll_test": jnp.stack(test)}
    if m.disc == "bigram" and cfg.bigram_products:
        table = sg.bigram_table(m, state["disc"].params)
        prods = [(table, w) for w in cfg.bigram_products]
        out["product_nll_oracle"] = jnp.stack([sg.nll(m, state["oracle"], sg.sample(m, p, key, cfg.num_eval, product=x)) for x in prods])
        out["product_nll_test"] = jnp.stack([sg.nll(m, p, state["heldout"], product=x) for x in prods])
    return out


def real_sequences(cfg: SeqGANRunConfig, state, key):
    """The discriminator's ``num_negatives`` positives for one round, as ``--d-positives`` says."""
    if cfg.d_positives == "oracle":
        return sg.sample(cfg.model, state["oracle"], key, cfg.num_negatives)
    corpus = state["corpus"]
    return corpus[jax.random.choice(key, corpus.shape[0], (cfg.num_negatives,), replace=cfg.num_negatives > corpus.shape[0])]


def disc_round(cfg: SeqGANRunConfig, disc, state, gen_params, key):
    m = cfg.model
    kn, kr, kt = jax.random.split(key, 3)
    fake = sg.sample(m, gen_params, kn, cfg.num_negatives)
    return sg.disc_epochs(m, disc, real_sequences(cfg, state, kr), fake, kt, cfg.d_epochs, gen_params)


def pretrain_epoch(cfg: SeqGANRunConfig, state, key):
    mle, loss = sg.mle_epoch(cfg.model, state["mle"], state["corpus"], key)
    return {**state, "mle": mle, "adv": mle, "roll": mle.params}, {"mle_loss": loss}


def disc_from_generator(cfg: SeqGANRunConfig, state):
    """Before discriminator pre-training: an lm-ratio discriminator's q starts as the pre-trained generator
    (so D = 1/2 everywhere); the diagnostic ``optimal`` one is the oracle (D = D*, never trained); the CNN keeps
    its random initialization."""
    if cfg.model.disc not in sg.LIKELIHOOD_RATIO:
        return state
    p = state["oracle"] if cfg.model.disc == "optimal" else state["mle"].params
    return {**state, "disc": sg.Learner(params=p, opt_state=sg.disc_optimizer(cfg.model).init(p))}


def trains_disc(cfg: SeqGANRunConfig) -> bool:
    """False for ``--model.disc bigram`` (counted from the corpus at the start) and the diagnostic ``optimal``
    (D* is computed, not learned)."""
    return cfg.model.disc not in sg.UNTRAINED


def disc_pretrain_round(cfg: SeqGANRunConfig, state, key):
    disc, metrics = disc_round(cfg, state["disc"], state, state["mle"].params, key)
    return {**state, "disc": disc}, metrics


def split_branches(cfg: SeqGANRunConfig, state):
    """SeqGAN starts from the pre-trained generator with a fresh policy-gradient optimizer."""
    p = state["mle"].params
    return {**state, "adv": sg.Learner(params=p, opt_state=sg.pg_optimizer(cfg.model).init(p)), "roll": p}


def adversarial_epoch(cfg: SeqGANRunConfig, state, key):
    m = cfg.model
    k_mle, k_g, k_d = jax.random.split(key, 3)
    mle, mle_loss = sg.mle_epoch(m, state["mle"], state["corpus"], k_mle)

    def g_step(carry, k):
        gen, roll = carry
        gen, roll, metrics = sg.generator_pg_step(m, gen, roll, state["disc"].params, k)
        return (gen, roll), metrics

    (adv, roll), g_metrics = (state["adv"], state["roll"]), {}
    if cfg.g_steps:  # a zero-length scan would leave no last step to report
        (adv, roll), g_metrics = jax.lax.scan(g_step, (adv, roll), jax.random.split(k_g, cfg.g_steps))

    def d_step(disc, k):
        return disc_round(cfg, disc, state, adv.params, k)

    disc, d_metrics = state["disc"], {}
    if trains_disc(cfg) and cfg.d_rounds:
        disc, d_metrics = jax.lax.scan(d_step, disc, jax.random.split(k_d, cfg.d_rounds))
    metrics = {"mle_loss": mle_loss, **jax.tree_util.tree_map(lambda x: x[-1], {**g_metrics, **d_metrics})}
    return {**state, "mle": mle, "adv": adv, "roll": roll, "disc": disc}, metrics


# ---------------------------------------------------------------------------------------------------------
# Driver.


def seed_batching(cfg: SeqGANRunConfig) -> str:
    """``cfg.seed_batching`` with ``auto`` resolved: ``map`` on a CPU, ``vmap`` on an accelerator."""
    if cfg.seed_batching != "auto":
        return cfg.seed_batching
    return "map" if jax.default_backend() == "cpu" else "vmap"


def per_seed(cfg: SeqGANRunConfig, f):
    """``f(cfg, *args)`` of one seed, applied to arguments with a leading seed axis: ``jax.vmap`` or ``jax.lax.map``
    as :func:`seed_batching` says."""
    g = functools.partial(f, cfg)
    if seed_batching(cfg) == "vmap":
        return jax.vmap(g)
    return lambda *args: jax.lax.map(lambda a: g(*a), args)


def seed_keys(cfg: SeqGANRunConfig, tag: int, i: int) -> jax.Array:
    """``[K]`` keys for step ``i`` of phase ``tag``: deterministic, so a resumed run draws the same numbers."""
    return jax.vmap(lambda s: jax.random.fold_in(jax.random.fold_in(jax.random.PRNGKey(s), tag), i))(jnp.arange(cfg.seed, cfg.seed + cfg.num_seeds))


def plot(path: Path, cfg: SeqGANRunConfig, curves: list[dict], sweep: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(21, 4.2))
    x = np.array([c["epoch"] for c in curves])
    split = cfg.pretrain_epochs
    for ax, metric, title in (
        (axes[0], "nll_oracle", "NLL_oracle of generated sequences"),
        (axes[1], "nll_test", "NLL_test of held-out oracle data"),
    ):
        for name, label in (("mle", "MLE (continued)"), ("adv", "SeqGAN")):
            y = np.array([c[f"{name}_{metric}"] for c in curves])  # [T, K]
            mask = x >= split if name == "adv" else np.ones_like(x, bool)
            ax.plot(x[mask], y[mask].mean(1), marker=".", label=label)
            ax.fill_between(x[mask], y[mask].min(1), y[mask].max(1), alpha=0.2)
        if metric == "nll_oracle":
            own = np.array([c["oracle_own"] for c in curves]).mean()
            ax.axhline(own, color="green", ls="--", lw=0.8, label=f"oracle's own samples ({own:.2f})")
        ax.axvline(split, color="grey", ls=":", lw=0.8)
        ax.set_xlabel("epoch (pre-training | after the split)")
        ax.set_ylabel("nats per token")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8)
    ax = axes[2]  # quality (NLL_oracle) vs coverage (NLL_test) at the end
    ax.plot(sweep["nll_test"].mean(0), sweep["nll_oracle"].mean(0), marker="o", label="MLE at temperature T")
    for t, xt, yo in zip(cfg.temperatures, sweep["nll_test"].mean(0), sweep["nll_oracle"].mean(0), strict=True):
        ax.annotate(f"T={t:g}", (xt, yo), fontsize=7, textcoords="offset points", xytext=(4, 4))
    if "product_nll_oracle" in sweep:
        ax.plot(sweep["product_nll_test"].mean(0), sweep["product_nll_oracle"].mean(0), marker="s", color="C2", label="MLE x bigram, weight w")
        for w, xt, yo in zip(cfg.bigram_products, sweep["product_nll_test"].mean(0), sweep["product_nll_oracle"].mean(0), strict=True):
            ax.annotate(f"w={w:g}", (xt, yo), fontsize=7, textcoords="offset points", xytext=(4, 4))
    last = curves[-1]
    ax.scatter([np.mean(last["adv_nll_test"])], [np.mean(last["adv_nll_oracle"])], color="C1", marker="*", s=120, zorder=3, label="SeqGAN (T=1)")
    ax.set_xlabel("NLL_test (nats per token)")
    ax.set_ylabel("NLL_oracle (nats per token)")
    ax.set_title("end of run: sharpness trade-off (lower-left is better)", fontsize=10)
    ax.legend(fontsize=8)
    ax = axes[3]  # does the discriminator's reward rank the SeqGAN generator's samples by oracle likelihood?
    adv = x >= split
    for key, label in (
        ("d_vs_oracle", "D's logit vs log p_oracle"),
        ("d_vs_optimal", "D's logit vs optimal logit log p_oracle - log p_G"),
        ("optimal_vs_oracle", "optimal logit vs log p_oracle (a perfect D)"),
    ):
        y = np.array([c[f"reward_rank_corr_{key}"] for c in curves])[adv]  # [T, K]
        ax.plot(x[adv], y.mean(1), marker=".", label=label)
        ax.fill_between(x[adv], y.min(1), y.max(1), alpha=0.2)
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlabel("epoch")
    ax.set_ylabel("Spearman rank correlation over generated samples")
    ax.set_title("reward alignment (1 = D ranks samples like the oracle)", fontsize=10)
    ax.legend(fontsize=7)
    fig.suptitle(
        f"SeqGAN vs MLE, synthetic oracle (V={cfg.model.vocab}, L={cfg.model.seq_len}), {cfg.num_seeds} seeds: mean, min-max band", fontsize=10
    )
    save_figure(fig, path)


def train(cfg: SeqGANRunConfig) -> dict:
    check_config(cfg)
    start = time.time()
    run_dir = prepare_run_dir(cfg.run_dir, cfg.resume)
    run_dir.mkdir(parents=True, exist_ok=True)
    K = cfg.num_seeds
    vjit = lambda f: jax.jit(per_seed(cfg, f))
    init_fn, eval_fn = vjit(init_seed), vjit(evaluate_seed)
    pre_fn, dpre_fn, adv_fn = vjit(pretrain_epoch), vjit(disc_pretrain_round), vjit(adversarial_epoch)
    split_fn, disc_init_fn = vjit(split_branches), vjit(disc_from_generator)

    state = init_fn(seed_keys(cfg, 0, 0))
    epoch, curves = 0, []
    if cfg.resume:
        state, meta = load_checkpoint(run_dir, state)
        epoch, curves = meta["epoch"], meta["curves"]
    else:
        atomic_write_bytes(run_dir / "config.json", json.dumps(config_to_dict(cfg), indent=2).encode())
    total = cfg.pretrain_epochs + cfg.adv_epochs

    phase_s = {"mle_pretraining": 0.0, "disc_pretraining": 0.0, "adversarial_epochs": 0.0, "evaluations": 0.0}  # this process's wall time

    def record(metrics: dict) -> None:
        t0 = time.time()
        ev = jax.tree_util.tree_map(lambda a: np.asarray(a).tolist(), eval_fn(state, seed_keys(cfg, 1, epoch)))
        phase_s["evaluations"] += time.time() - t0
        entry = {"epoch": epoch, **ev, **{k: np.asarray(v).tolist() for k, v in metrics.items()}}
        curves.append(entry)
        atomic_write_bytes(run_dir / "curves.jsonl", "".join(json.dumps(c) + "\n" for c in curves).encode())
        bar.set_postfix(mle=f"{np.mean(ev['mle_nll_oracle']):.3f}", seqgan=f"{np.mean(ev['adv_nll_oracle']):.3f}")

    bar = progress_bar(total, initial=epoch, desc="seqgan epochs")
    if epoch == 0 and not curves:
        record({})
    while epoch < total:
        if epoch == cfg.pretrain_epochs:  # the split: discriminator pre-training, then the two branches
            t0 = time.time()
            state = disc_init_fn(state)
            for r in range(cfg.d_pretrain_rounds if trains_disc(cfg) else 0):
                state, _ = dpre_fn(state, seed_keys(cfg, 2, r))
            state = jax.block_until_ready(split_fn(state))
            phase_s["disc_pretraining"] += time.time() - t0
        t0 = time.time()
        if epoch < cfg.pretrain_epochs:
            state, metrics = pre_fn(state, seed_keys(cfg, 3, epoch))
        else:
            state, metrics = adv_fn(state, seed_keys(cfg, 4, epoch))
        metrics = jax.tree_util.tree_map(np.asarray, metrics)  # waits for the epoch
        phase_s["mle_pretraining" if epoch < cfg.pretrain_epochs else "adversarial_epochs"] += time.time() - t0
        epoch += 1
        bar.update(1)
        check_finite({k: float(np.max(np.abs(v))) for k, v in metrics.items()}, epoch, run_dir)
        if epoch % cfg.eval_every == 0 or epoch == total or epoch == cfg.pretrain_epochs:
            record(metrics)
        if epoch % cfg.checkpoint_every == 0 or epoch == total:
            save_checkpoint(run_dir, state, {"epoch": epoch, "curves": curves})
    bar.close()
    sweep = jax.tree_util.tree_map(np.asarray, vjit(temperature_sweep)(state, seed_keys(cfg, 5, 0)))
    plot(run_dir / "seqgan.png", cfg, curves, sweep)
    last = curves[-1]
    mle_f, adv_f = np.array(last["mle_nll_oracle"]), np.array(last["adv_nll_oracle"])
    at_split = next((c for c in curves if c["epoch"] == cfg.pretrain_epochs), curves[0])
    summary = {
        "mle_nll_oracle": float(mle_f.mean()),
        "seqgan_nll_oracle": float(adv_f.mean()),
        "margin_nats": float((mle_f - adv_f).mean()),
        "margin_per_seed": [float(v) for v in mle_f - adv_f],
        "mle_nll_oracle_per_seed": mle_f.tolist(),
        "seqgan_nll_oracle_per_seed": adv_f.tolist(),
        "nll_oracle_at_split": float(np.mean(at_split["mle_nll_oracle"])),
        "oracle_own_nll": float(np.mean(last["oracle_own"])),
        "mle_nll_test": float(np.mean(last["mle_nll_test"])),
        "mle_temperature_sweep": {
            f"T={t:g}": {"nll_oracle": float(sweep["nll_oracle"][:, i].mean()), "nll_test": float(sweep["nll_test"][:, i].mean())}
            for i, t in enumerate(cfg.temperatures)
        },
        **(
            {
                "mle_bigram_product_sweep": {
                    f"w={w:g}": {"nll_oracle": float(sweep["product_nll_oracle"][:, i].mean()), "nll_test": float(sweep["product_nll_test"][:, i].mean())}
                    for i, w in enumerate(cfg.bigram_products)
                }
            }
            if "product_nll_oracle" in sweep
            else {}
        ),
        "seqgan_nll_test": float(np.mean(last["adv_nll_test"])),
        "disc_logit_corpus_heldout_generated": [float(np.mean(last[f"d_logit_{k}"])) for k in ("corpus", "heldout", "generated")],
        "reward_rank_corr": {k: float(np.mean(last[f"reward_rank_corr_{k}"])) for k in ("d_vs_oracle", "d_vs_optimal", "optimal_vs_oracle")},
        "num_seeds": K,
        "seed_batching": seed_batching(cfg),
        "epochs": total,
        "wall_s": round(time.time() - start, 1),
        "phase_wall_s": {k: round(v, 1) for k, v in phase_s.items()},
        "machine": machine_description(),
        "run_dir": str(run_dir),
    }
    atomic_write_bytes(run_dir / "results.json", json.dumps({"config": config_to_dict(cfg), **summary}, indent=2).encode())
    return summary
