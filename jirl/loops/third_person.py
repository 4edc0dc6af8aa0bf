"""Third-person imitation on Pendulum-v1 from pixels: the expert is seen through one camera, the learner acts
(on its own state) and is seen through another, and a DAC-style SAC learner is rewarded by a discriminator
that only ever gets frames (``jirl/algorithms/third_person.py``; cameras in ``jirl/envs/pixels.py``).

Three settings share everything but the viewpoint and lambda:

==================  ===================  ====================  ==========================================
setting             learner seen by      domain confusion      role
==================  ===================  ====================  ==========================================
``same-domain``     the expert's camera  off                   upper reference (plain GAIL on pixels)
``cross-domain``    its own camera       off                   plain GAIL across viewpoints (the ablation)
``third-person``    its own camera       on (``--tp.domain-    third-person imitation
                                         confusion``)
==================  ===================  ====================  ==========================================

The expert's video is the shipped Pendulum-v1 demonstrations rendered by the expert's camera (the learner
side never reads the expert's states or actions, only those frames); the non-expert video of the expert's
domain is uniformly random actions rendered by the same camera.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np

from jirl.algorithms import sac
from jirl.algorithms import third_person as tp
from jirl.buffers import buffer_sample
from jirl.data import DemoError, load_demonstrations
from jirl.envs.pixels import EXPERT_CAMERA, LEARNER_VIEWS, render_pairs
from jirl.loops.common import UserError, check_ranges, read_summary
from jirl.references import EXPERTS_DIR, reference_lines

ENV_ID = "Pendulum-v1"
DEFAULT_DEMOS = EXPERTS_DIR / ENV_ID / "demos.npz"
Setting = Literal["same-domain", "cross-domain", "third-person"]
SETTINGS: tuple[str, ...] = ("same-domain", "cross-domain", "third-person")


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """Options shared by every run of the benchmark (the setting and the seed vary per run)."""

    demos: str | None = None
    """Expert demonstrations .npz of Pendulum-v1 (default: the shipped ones); only their frames are used."""
    num_demos: int = 10
    """Expert episodes used (the first ones in the file); 200 steps each."""
    nonexpert_episodes: int = 10
    """Episodes of uniformly random actions filmed by the expert's camera (the non-expert video)."""
    total_steps: int = 10_000
    """Env steps to train for."""
    learning_starts: int = 1_000
    """Random-action steps before the first update."""
    eval_every: int = 1_000
    """Evaluate the deterministic policy on the true reward every this many env steps."""
    eval_episodes: int = 10
    """Episodes per evaluation."""
    checkpoint_every: int = 2_500
    """Write a resumable checkpoint every this many env steps (0: only at the end)."""
    view: Literal["moved", "recoloured"] = "recoloured"
    """The learner's camera: moved (other colours, off-centre, zoomed out, rolled 14 degrees) or recoloured
    (the expert's geometry in other colours)."""
    sac: sac.SACConfig = sac.SACConfig()
    tp: tp.ThirdPersonConfig = tp.ThirdPersonConfig()


def setting_parts(setting: str, tcfg: tp.ThirdPersonConfig, view: str = "recoloured"):
    """``(learner camera, third-person config)`` of a setting: the viewpoint and lambda are all that differ.
    ``view`` names the learner's camera in the cross-domain settings (:data:`jirl.envs.pixels.LEARNER_VIEWS`)."""
    if view not in LEARNER_VIEWS:
        raise UserError(f"unknown view {view!r}; choose from {', '.join(LEARNER_VIEWS)}")
    if setting == "same-domain":
        return EXPERT_CAMERA, dataclasses.replace(tcfg, domain_confusion=0.0)
    if setting == "cross-domain":
        return LEARNER_VIEWS[view], dataclasses.replace(tcfg, domain_confusion=0.0)
    if setting == "third-person":
        if tcfg.domain_confusion <= 0:
            raise UserError("--run.tp.domain-confusion must be > 0 for the third-person setting (0 is the cross-domain setting)")
        return LEARNER_VIEWS[view], tcfg
    raise UserError(f"unknown setting {setting!r}; choose from {', '.join(SETTINGS)}")


def nonexpert_transitions(episodes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(obs, next_obs)`` of ``episodes`` Pendulum-v1 episodes of uniformly random actions."""
    from jirl.envs import VecEnv, run_episodes

    env = VecEnv(ENV_ID, num_envs=min(episodes, 10), seed=seed)
    rng = np.random.default_rng(seed)
    _, _, trajs = run_episodes(env, lambda o: rng.uniform(-1.0, 1.0, (o.shape[0], env.action_dim)), episodes, seed=seed, record=True)
    env.close()
    return np.concatenate([t["obs"] for t in trajs]), np.concatenate([t["next_obs"] for t in trajs])


def check_run_options(cfg: RunOptions) -> None:
    """One-line errors for out-of-range learner settings, with this script's flag names (``--run.sac.*``)."""
    from jirl.loops.sac import SAC_RANGES

    check_ranges("run.sac", cfg.sac, SAC_RANGES)
    check_ranges("run.tp", cfg.tp, {
        "channels": "sizes", "features": ">=1", "hidden": "sizes", "domain_hidden": "sizes", "domain_confusion": ">=0",
        "learning_rate": ">0", "batch_size": ">=1", "steps_per_update": ">=1", "grad_penalty": ">=0", "own_state_coef": ">=0",
    })


def train(cfg: RunOptions, setting: str, seed: int, run_dir: str, resume: bool = False) -> dict:
    """Train one (setting, seed) into ``run_dir``; returns its summary."""
    from jirl.loops.sac import OffPolicyImitation, SACTrainConfig
    from jirl.loops.sac import train as sac_train

    learner_camera, tcfg = setting_parts(setting, cfg.tp, cfg.view)
    check_run_options(cfg)
    if cfg.num_demos < 1 or cfg.nonexpert_episodes < 1:
        raise UserError("--run.num-demos and --run.nonexpert-episodes must be >= 1")
    try:
        demos = load_demonstrations(cfg.demos or DEFAULT_DEMOS, env_id=ENV_ID, obs_dim=3, action_dim=1).select_episodes(cfg.num_demos)
    except DemoError as e:
        raise UserError(str(e)) from None
    # what the learner side may use of the expert: its frames, rendered by the expert's camera (per minibatch)
    expert_obs, expert_next = jnp.asarray(demos.observations), jnp.asarray(demos.next_observations)
    non_obs, non_next = (jnp.asarray(x) for x in nonexpert_transitions(cfg.nonexpert_episodes, seed=seed + 50_000))
    frame_shape = (EXPERT_CAMERA.size, EXPERT_CAMERA.size, 3)
    state = tp.init(tcfg, jax.random.PRNGKey(seed + 1), frame_shape)
    n_pool = tcfg.batch_size * tcfg.steps_per_update

    def aux_update(disc, norm, buffer, key, actor_params=None):
        k_rows, k_e, k_n, k_train = jax.random.split(key, 4)
        rows = buffer_sample(buffer, k_rows, n_pool)
        ie = jax.random.randint(k_e, (n_pool,), 0, expert_obs.shape[0])
        i_n = jax.random.randint(k_n, (n_pool,), 0, non_obs.shape[0])
        expert = {"clips": render_pairs(expert_obs[ie], expert_next[ie], EXPERT_CAMERA)}
        others = {
            "learner": render_pairs(rows.obs, rows.next_obs, learner_camera),
            "learner_obs": rows.obs,  # the learner's own observations, for the optional own-state loss only
            "nonexpert": render_pairs(non_obs[i_n], non_next[i_n], EXPERT_CAMERA),
        }
        return tp.train_steps(tcfg, disc, expert, others, k_train, tcfg.steps_per_update)

    def reward_fn(disc, norm, batches):
        return tp.reward(tcfg, disc.params, render_pairs(batches.obs, batches.next_obs, learner_camera))

    imitation = OffPolicyImitation(
        name=setting,
        make_aux=lambda seed: state,
        aux_update=aux_update,
        reward_fn=reward_fn,
        metric_names=tp.metric_names(),
        reference_lines=reference_lines(ENV_ID),
        config={"setting": setting, "options": cfg},
    )
    scfg = SACTrainConfig(
        env_id=ENV_ID,
        seed=seed,
        total_steps=cfg.total_steps,
        learning_starts=cfg.learning_starts,
        buffer_size=max(cfg.total_steps, 1),
        num_envs=1,
        normalize_obs=False,
        eval_every=cfg.eval_every,
        eval_episodes=cfg.eval_episodes,
        log_every=500,
        checkpoint_every=cfg.checkpoint_every,
        run_dir=run_dir,
        resume=resume,
        sac=cfg.sac,
    )
    summary = sac_train(scfg, imitation)
    summary.update(
        setting=setting, domain_confusion=tcfg.domain_confusion, num_demos=cfg.num_demos, expert_demo_return=float(np.mean(demos.episode_returns))
    )
    return summary


# --- the benchmark: every setting x seeds, one table ----------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ThirdPersonBenchConfig:
    """Same-domain GAIL, cross-domain GAIL and third-person imitation on Pendulum-v1 pixels, several seeds."""

    out_dir: str = "runs/third-person"
    """Folder of the runs (<setting>-s<seed>), table.md, third_person.png and results.json. Finished runs are
    kept; rerunning the same command continues where it stopped."""
    settings: tuple[Setting, ...] = ("same-domain", "cross-domain", "third-person")
    """Settings to run."""
    seeds: tuple[int, ...] = (0, 1, 2)
    """Seeds of every setting."""
    table_only: bool = False
    """Only rebuild table.md / third_person.png / results.json from the finished runs."""
    run: RunOptions = RunOptions()


def _run_dir(cfg: ThirdPersonBenchConfig, setting: str, seed: int) -> Path:
    return Path(cfg.out_dir) / f"{setting}-s{seed}"


def _scores(results: dict, setting: str) -> list[float]:
    return [r["normalized_score"] for r in results.get(setting, {}).values()]


def bench_results(cfg: ThirdPersonBenchConfig) -> dict:
    """``{setting: {seed: summary}}`` of the finished runs, plus ``curves`` ``{setting: {seed: [(step, score)]}}``."""
    results, curves = {}, {}
    for setting in cfg.settings:
        for seed in cfg.seeds:
            run_dir = _run_dir(cfg, setting, seed)
            summary = read_summary(run_dir)
            if summary is not None:
                results.setdefault(setting, {})[seed] = summary
                rows = [json.loads(line) for line in (run_dir / "eval.jsonl").read_text().splitlines() if line.strip()]
                curves.setdefault(setting, {})[seed] = [(r["env_steps"], r["normalized_score"]) for r in rows if "normalized_score" in r]
    return {"runs": results, "curves": curves}


def gap_closed(same: float, cross: float, third: float) -> float | None:
    """Share of the gap between cross-domain GAIL and same-domain GAIL that third-person imitation closes."""
    return None if same - cross <= 1e-9 else (third - cross) / (same - cross)


def bench_table(cfg: ThirdPersonBenchConfig, res: dict) -> tuple[str, dict]:
    runs = res["runs"]
    lines = [
        "| setting | learner seen by | domain confusion | return | normalized score | per seed |",
        "| --- | --- | --- | ---: | ---: | --- |",
    ]
    means = {}
    for setting in cfg.settings:
        rs = runs.get(setting, {})
        if not rs:
            lines.append(f"| {setting} | | | not run | not run | |")
            continue
        ret = [r["mean_return"] for r in rs.values()]
        sc = _scores(runs, setting)
        means[setting] = float(np.mean(sc))
        camera = "expert's camera" if setting == "same-domain" else "its own camera"
        lam = f"lambda = {cfg.run.tp.domain_confusion:g}" if setting == "third-person" else "off"
        per_seed = ", ".join(f"s{s}: {r['normalized_score']:.2f}" for s, r in sorted(rs.items()))
        lines.append(f"| {setting} | {camera} | {lam} | {np.mean(ret):.0f} ± {np.std(ret):.0f} | {np.mean(sc):.3f} ± {np.std(sc):.3f} | {per_seed} |")
    closed = None
    if all(s in means for s in ("same-domain", "cross-domain", "third-person")):
        closed = gap_closed(means["same-domain"], means["cross-domain"], means["third-person"])
    if closed is not None:
        lines.append("")
        lines.append(f"Third-person imitation closes {100 * closed:.1f}% of the gap between cross-domain and same-domain GAIL (bar: 50%).")
    return "\n".join(lines) + "\n", {"means": means, "gap_closed": closed}


def bench_plot(path: Path, cfg: ThirdPersonBenchConfig, res: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from jirl.fileio import save_figure

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for i, setting in enumerate(cfg.settings):
        curves = list(res["curves"].get(setting, {}).values())
        if not curves:
            continue
        n = min(len(c) for c in curves)
        steps = np.array([s for s, _ in curves[0][:n]])
        scores = np.array([[v for _, v in c[:n]] for c in curves])
        m, sd = scores.mean(0), scores.std(0)
        ax.plot(steps, m, color=f"C{i}", label=f"{setting} ({len(curves)} seeds)")
        ax.fill_between(steps, m - sd, m + sd, color=f"C{i}", alpha=0.2)
    ax.axhline(1.0, color="k", ls="--", lw=0.8, label="expert")
    ax.axhline(0.0, color="gray", ls=":", lw=0.8, label="random")
    ax.set_xlabel("env steps")
    ax.set_ylabel("normalized score (true reward)")
    ax.set_title("Pendulum-v1 from pixels: imitation across viewpoints")
    ax.legend(loc="lower right", fontsize=8)
    save_figure(fig, path)
    plt.close(fig)


def bench(cfg: ThirdPersonBenchConfig) -> dict:
    """Run every unfinished (setting, seed), then write the table, the figure and results.json."""
    from jirl.fileio import atomic_write_bytes

    if not cfg.settings or not cfg.seeds:
        raise UserError("--settings and --seeds must not be empty")
    for setting in cfg.settings:
        setting_parts(setting, cfg.run.tp, cfg.run.view)  # validate before training
    check_run_options(cfg.run)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if not cfg.table_only:
        for seed in cfg.seeds:
            for setting in cfg.settings:
                run_dir = _run_dir(cfg, setting, seed)
                if read_summary(run_dir) is not None:
                    continue
                resume = (run_dir / "checkpoint.msgpack").exists()
                print(f"== {setting}, seed {seed}{' (resuming)' if resume else ''}", flush=True)
                summary = train(cfg.run, setting, seed, str(run_dir), resume)
                atomic_write_bytes(run_dir / "summary.json", json.dumps(summary, indent=2).encode())
    res = bench_results(cfg)
    table, extra = bench_table(cfg, res)
    atomic_write_bytes(out / "table.md", table.encode())
    bench_plot(out / "third_person.png", cfg, res)
    scores = {s: _scores(res["runs"], s) for s in res["runs"]}
    summary = {
        "settings": {s: {"mean": float(np.mean(v)), "std": float(np.std(v)), "seeds": len(v)} for s, v in scores.items()},
        "gap_closed": extra["gap_closed"],
        "table": str(out / "table.md"),
        "figure": str(out / "third_person.png"),
    }
    atomic_write_bytes(out / "results.json", json.dumps({"summary": summary, "runs": res["runs"]}, indent=2).encode())
    print(table, flush=True)
    return summary


# --- offline probe: does the discriminator's reward transfer to the learner's viewpoint? ---------------------


@dataclasses.dataclass(frozen=True)
class ProbeConfig:
    """Train only the discriminator (no RL) on fixed pools and test whether its reward would guide a learner."""

    settings: tuple[Setting, ...] = ("same-domain", "cross-domain", "third-person")
    """Settings to probe (the learner pool is random actions filmed by the setting's learner camera)."""
    steps: int = 2_000
    """Discriminator steps."""
    num_demos: int = 10
    """Expert episodes trained on; the rest of the demonstrations file is held out for the test."""
    episodes: int = 10
    """Random-action episodes per pool (non-expert of the expert's domain, learner, test)."""
    test_clips: int = 800
    """Held-out clips per test group."""
    seed: int = 0
    """Seed of the discriminator and the probe."""
    view: Literal["moved", "recoloured"] = "recoloured"
    """The learner's camera (see the benchmark's --run.view)."""
    tp: tp.ThirdPersonConfig = tp.ThirdPersonConfig()


def _auc(pos, neg) -> float:
    """P(a positive scores above a negative), ties counted half."""
    pos, neg = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    return float(np.mean(pos > neg) + 0.5 * np.mean(pos == neg))


def probe(cfg: ProbeConfig) -> dict:
    """For each setting: train the discriminator for ``steps`` on expert clips (expert camera), random-action
    clips (expert camera) and random-action "learner" clips (the setting's learner camera); then score held-out
    expert episodes and fresh random episodes, both filmed by the learner camera. ``reward_auc`` near 1 means
    the reward ranks expert behaviour above random behaviour in the learner's own view (what the RL learner
    needs); ``domain_leak_auc`` is the behaviour head's AUC of random clips of the expert's camera over random
    clips of the learner's camera (0.5 = the head cannot see the viewpoint)."""
    if cfg.steps < 1 or cfg.episodes < 1 or cfg.test_clips < 1:
        raise UserError("--steps, --episodes and --test-clips must be >= 1")
    try:
        demos = load_demonstrations(DEFAULT_DEMOS, env_id=ENV_ID, obs_dim=3, action_dim=1)
    except DemoError as e:
        raise UserError(str(e)) from None
    if demos.num_episodes <= cfg.num_demos:
        raise UserError(f"the demonstrations hold {demos.num_episodes} episodes; --num-demos must leave some for the test")
    split = int(demos.episode_starts[cfg.num_demos])
    obs, nxt = jnp.asarray(demos.observations), jnp.asarray(demos.next_observations)
    pools = [tuple(jnp.asarray(x) for x in nonexpert_transitions(cfg.episodes, seed=cfg.seed + s)) for s in (50_000, 60_000, 70_000)]
    (n_obs, n_next), (l_obs, l_next), (t_obs, t_next) = pools
    rng = np.random.default_rng(cfg.seed)
    held = rng.choice(obs.shape[0] - split, min(cfg.test_clips, obs.shape[0] - split), replace=False) + split
    rand = rng.choice(t_obs.shape[0], min(cfg.test_clips, t_obs.shape[0]), replace=False)
    expert = {"clips": render_pairs(obs[:split], nxt[:split], EXPERT_CAMERA)}  # the same for every setting
    nonexpert = render_pairs(n_obs, n_next, EXPERT_CAMERA)
    rows, out = [], {}
    for setting in cfg.settings:
        camera, tcfg = setting_parts(setting, cfg.tp, cfg.view)
        state = tp.init(tcfg, jax.random.PRNGKey(cfg.seed), (EXPERT_CAMERA.size, EXPERT_CAMERA.size, 3))
        others = {"learner": render_pairs(l_obs, l_next, camera), "learner_obs": l_obs, "nonexpert": nonexpert}
        state, m = jax.jit(lambda s, k, tcfg=tcfg, e=expert, o=others: tp.train_steps(tcfg, s, e, o, k, cfg.steps))(
            state, jax.random.PRNGKey(cfg.seed + 7)
        )
        score = lambda o, n, cam, tcfg=tcfg, state=state: np.asarray(tp.behaviour_logits(tcfg, state.params, render_pairs(o, n, cam)))
        pos, neg = score(obs[held], nxt[held], camera), score(t_obs[rand], t_next[rand], camera)
        leak = score(t_obs[rand], t_next[rand], EXPERT_CAMERA)
        out[setting] = {
            "reward_auc": _auc(pos, neg),
            "domain_leak_auc": _auc(leak, neg),
            "mean_logit_expert_clips": float(pos.mean()),
            "mean_logit_random_clips": float(neg.mean()),
            "domain_acc": float(m["domain_acc"]),
        }
        r = out[setting]
        rows.append(
            f"| {setting} | {r['reward_auc']:.3f} | {r['domain_leak_auc']:.3f} | {r['mean_logit_expert_clips']:.2f} / {r['mean_logit_random_clips']:.2f} | {r['domain_acc']:.2f} |"
        )
    table = (
        "| setting | reward AUC (expert > random, learner's view) | viewpoint leak AUC | mean logit expert / random | domain acc |\n| --- | ---: | ---: | ---: | ---: |\n"
        + "\n".join(rows)
    )
    print(table, flush=True)
    return {"probe": out, "steps": cfg.steps, "domain_confusion": cfg.tp.domain_confusion}
