"""Run infrastructure shared by every training loop.

* :class:`RunLogger`: metrics to ``metrics.jsonl`` and TensorBoard event files, evaluation records to
  ``eval.jsonl``, and a learning-curve PNG (``curve.png``) redrawn at every evaluation;
* atomic checkpoints (:func:`save_checkpoint` writes a temp file and renames it) of any pytree, with
  :func:`load_checkpoint` restoring into a template pytree of the same structure;
* :func:`check_finite` stops a run with a clear message when a loss goes NaN/inf (the last good checkpoint
  is left untouched);
* :func:`progress_bar` (tqdm over env steps) and :func:`print_final_json`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import serialization

from jirl.fileio import atomic_write_bytes, save_figure

CHECKPOINT_NAME = "checkpoint.msgpack"


class NonFiniteLossError(RuntimeError):
    """Raised when a training metric becomes NaN or infinite."""


class UserError(Exception):
    """A mistake in the user's input: scripts print its one-line message and exit with status 2."""


_RANGES = {
    ">=1": (lambda v: v >= 1, "must be >= 1"),
    ">0": (lambda v: v > 0, "must be > 0"),
    ">=0": (lambda v: v >= 0, "must be >= 0"),
    "(0,1]": (lambda v: 0 < v <= 1, "must be in (0, 1]"),
    "[0,1]": (lambda v: 0 <= v <= 1, "must be in [0, 1]"),
    "[0,1)": (lambda v: 0 <= v < 1, "must be in [0, 1)"),
    "sizes": (lambda v: all(h >= 1 for h in v), "must be layer widths >= 1"),
}


def check_ranges(prefix: str, config: Any, rules: dict[str, str]) -> None:
    """Raise a one-line :class:`UserError` for the first field of ``config`` outside its range, naming the
    command-line flag ``--{prefix}.{field}``. ``rules`` maps a field to ``">=1"``, ``">0"``, ``">=0"``,
    ``"(0,1]"``, ``"[0,1]"``, ``"[0,1)"`` or ``"sizes"`` (a tuple of layer widths); NaN is outside every range. Without it,
    e.g. a zero minibatch size divides by zero and a discount above 1 trains until the losses blow up."""
    for name, rule in rules.items():
        value = getattr(config, name)
        ok, says = _RANGES[rule]
        if not ok(value):
            shown = " ".join(map(str, value)) if isinstance(value, tuple) else value
            raise UserError(f"--{prefix}.{name.replace('_', '-')} {says}, got {shown}")


def machine_description() -> str:
    """E.g. ``"2-core x86_64 CPU (AMD EPYC, AVX-512)"`` or ``"GPU: NVIDIA H100 80GB HBM3 (+16 CPU cores)"``.

    The widest x86 vector extension is named because one model name covers several CPU generations: on two
    2-core hosts that both report "AMD EPYC", the phases of ``python experiments/seqgan.py`` took 1.7-1.8x longer
    on the one with AVX2 than on the one with AVX-512 (README, SeqGAN)."""
    devices = jax.devices()
    if devices and devices[0].platform == "gpu":
        return f"GPU: {devices[0].device_kind} (+{os.cpu_count()} CPU cores)"
    cpu, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            fields = dict(line.split(":", 1) for line in f.read().split("\n\n")[0].splitlines() if ":" in line)  # first core
        fields = {k.strip(): v.strip() for k, v in fields.items()}
        cpu, flags = fields.get("model name", cpu), set(fields.get("flags", "").split())
    except OSError:
        pass
    simd = next((name for flag, name in (("avx512f", "AVX-512"), ("avx2", "AVX2")) if flag in flags), None)
    return f"{os.cpu_count()}-core {platform.machine()} CPU ({cpu}{', ' + simd if simd else ''})"


def pytree_to_bytes(tree: Any, meta: dict | None = None) -> bytes:
    """Serialize a pytree's leaves (msgpack, never pickle) plus a JSON-able ``meta`` dict."""
    leaves = jax.tree_util.tree_leaves(tree)
    payload = {
        "leaves": {str(i): np.asarray(x) for i, x in enumerate(leaves)},
        "meta": json.dumps(meta or {}),
    }
    return serialization.msgpack_serialize(payload)


def meta_from_bytes(data: bytes) -> dict:
    """Only the ``meta`` dict of :func:`pytree_to_bytes` output (no template needed)."""
    return json.loads(serialization.msgpack_restore(data)["meta"])


def pytree_from_bytes(template: Any, data: bytes) -> tuple[Any, dict]:
    """Inverse of :func:`pytree_to_bytes`: leaves are put back into ``template``'s structure."""
    payload = serialization.msgpack_restore(data)
    leaves_t, treedef = jax.tree_util.tree_flatten(template)
    stored = payload["leaves"]
    if len(stored) != len(leaves_t):
        raise ValueError(f"checkpoint has {len(stored)} arrays, expected {len(leaves_t)} (different config?)")
    leaves = []
    for i, t in enumerate(leaves_t):
        x = np.asarray(stored[str(i)])
        if x.shape != np.shape(t):
            raise ValueError(f"checkpoint array {i} has shape {x.shape}, expected {np.shape(t)} (different config?)")
        leaves.append(jax.numpy.asarray(x, dtype=np.asarray(t).dtype))
    return jax.tree_util.tree_unflatten(treedef, leaves), json.loads(payload["meta"])


def save_checkpoint(run_dir: str | os.PathLike, tree: Any, meta: dict) -> Path:
    path = Path(run_dir) / CHECKPOINT_NAME
    atomic_write_bytes(path, pytree_to_bytes(tree, meta))
    return path


def load_checkpoint(run_dir: str | os.PathLike, template: Any) -> tuple[Any, dict]:
    path = Path(run_dir) / CHECKPOINT_NAME
    with open(path, "rb") as f:
        return pytree_from_bytes(template, f.read())


def prepare_run_dir(run_dir: str | os.PathLike, resume: bool) -> Path:
    """Check that ``run_dir`` can be started (no run there yet) or resumed (a checkpoint there)."""
    run_dir = Path(run_dir)
    ckpt = run_dir / CHECKPOINT_NAME
    if resume and not ckpt.exists():
        raise UserError(f"--resume: no checkpoint at {ckpt}; start without --resume")
    if not resume and ckpt.exists():
        raise UserError(f"{run_dir} already holds a run; pass --resume to continue it or choose another --run-dir")
    return run_dir


def make_train_and_eval_envs(env_id: str, num_envs: int, eval_episodes: int, seed: int, workers: int = 0):
    """The training vector env (seeded ``seed``, stepped by ``workers`` processes when > 0) and an in-process
    evaluation env with one copy per episode (seeded ``seed + 10_000``); a bad env id or worker count becomes
    a :class:`UserError`."""
    from jirl.envs.gym_bridge import VecEnv

    try:
        return VecEnv(env_id, num_envs, seed=seed, workers=workers), VecEnv(env_id, eval_episodes, seed=seed + 10_000)
    except ValueError as e:
        raise UserError(str(e).replace("workers must", "--env-workers must")) from None


def check_finite(metrics: dict, step: int, run_dir: str | os.PathLike) -> None:
    bad = [k for k, v in metrics.items() if not math.isfinite(float(v))]
    if bad:
        raise NonFiniteLossError(
            f"non-finite {', '.join(bad)} at env step {step}; stopped. The last good checkpoint in {run_dir} is kept: "
            "lower the learning rates or check the data, then rerun with --resume."
        )


def to_float_dict(metrics: dict) -> dict:
    return {k: float(v) for k, v in jax.device_get(metrics).items()}


def config_to_dict(config: Any) -> dict:
    def convert(x):
        if dataclasses.is_dataclass(x):
            return {f.name: convert(getattr(x, f.name)) for f in dataclasses.fields(x)}
        if isinstance(x, (tuple, list)):
            return [convert(v) for v in x]
        if isinstance(x, dict):
            return {k: convert(v) for k, v in x.items()}
        if isinstance(x, Path):
            return str(x)
        return x

    return convert(config)


def config_from_dict(kind: type, d: dict):
    """A flat config dataclass ``kind`` from its :func:`config_to_dict` form (lists back to tuples; keys that
    ``kind`` lacks are ignored, missing ones keep their defaults)."""
    names = {f.name for f in dataclasses.fields(kind)}
    return kind(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in names})


class RunLogger:
    """Writes ``metrics.jsonl``, ``eval.jsonl``, TensorBoard events (``tb/``) and ``curve.png`` in ``run_dir``.

    ``reference_lines`` (name -> return) are drawn as horizontal lines on the curve (e.g. expert, random).
    On resume, the existing JSONL files are appended to and the curve keeps the earlier points.
    """

    def __init__(self, run_dir: str | os.PathLike, title: str, reference_lines: dict | None = None, tensorboard: bool = True):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.title = title
        self.reference_lines = reference_lines or {}
        self._metrics = open(self.run_dir / "metrics.jsonl", "a")
        self._evals = open(self.run_dir / "eval.jsonl", "a")
        self.eval_history = []
        eval_path = self.run_dir / "eval.jsonl"
        if eval_path.exists():
            with open(eval_path) as f:
                self.eval_history = [json.loads(line) for line in f if line.strip()]
        self._tb = None
        if tensorboard:
            try:
                from tensorboardX import SummaryWriter

                self._tb = SummaryWriter(str(self.run_dir / "tb"))
            except ImportError:  # pragma: no cover
                self._tb = None

    def truncate_after(self, step: int) -> None:
        """On resume: drop records logged after the checkpoint's step (they will be produced again)."""
        for name in ("metrics.jsonl", "eval.jsonl"):
            path = self.run_dir / name
            with open(path) as f:
                rows = [line for line in f if line.strip() and json.loads(line).get("env_steps", 0) <= step]
            atomic_write_bytes(path, "".join(rows).encode())
        self._metrics.close()
        self._evals.close()
        self._metrics = open(self.run_dir / "metrics.jsonl", "a")
        self._evals = open(self.run_dir / "eval.jsonl", "a")
        self.eval_history = [r for r in self.eval_history if r["env_steps"] <= step]

    def log_metrics(self, step: int, metrics: dict) -> None:
        row = {"env_steps": int(step), "time": time.time(), **metrics}
        self._metrics.write(json.dumps(row) + "\n")
        self._metrics.flush()
        if self._tb is not None:
            for k, v in metrics.items():
                self._tb.add_scalar(f"train/{k}", v, step)

    def log_eval(self, step: int, returns: np.ndarray, extra: dict | None = None) -> dict:
        """Record an evaluation; adds ``normalized_score`` when ``expert`` and ``random`` reference lines exist."""
        row = {
            "env_steps": int(step),
            "mean_return": float(np.mean(returns)),
            "std_return": float(np.std(returns)),
            "episodes": len(returns),
            "time": time.time(),  # Unix time, as in metrics.jsonl (e.g. wall time to a score, from the run's start)
            **(extra or {}),
        }
        refs = self.reference_lines
        if "expert" in refs and "random" in refs:
            row["normalized_score"] = float((row["mean_return"] - refs["random"]) / (refs["expert"] - refs["random"]))
        self.eval_history.append(row)
        self._evals.write(json.dumps(row) + "\n")
        self._evals.flush()
        if self._tb is not None:
            self._tb.add_scalar("eval/mean_return", row["mean_return"], step)
            for k, v in (extra or {}).items():
                if isinstance(v, (int, float)):
                    self._tb.add_scalar(f"eval/{k}", v, step)
            self._tb.flush()
        self.plot()
        return row

    def plot(self) -> None:
        if not self.eval_history:
            return
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        steps = np.array([r["env_steps"] for r in self.eval_history])
        mean = np.array([r["mean_return"] for r in self.eval_history])
        std = np.array([r["std_return"] for r in self.eval_history])
        fig, ax = plt.subplots(figsize=(7, 4.2))
        ax.plot(steps, mean, color="C0", label="evaluation return (mean)")
        ax.fill_between(steps, mean - std, mean + std, color="C0", alpha=0.2, label="± 1 std")
        draw_reference_lines(ax, self.reference_lines, first_color=1)
        ax.set_xlabel("env steps")
        ax.set_ylabel("episode return")
        ax.set_title(self.title)
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
        save_figure(fig, self.run_dir / "curve.png", dpi=110)

    def close(self) -> None:
        self._metrics.close()
        self._evals.close()
        if self._tb is not None:
            self._tb.close()


def progress_bar(total: int, initial: int = 0, desc: str = "train"):
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        initial=initial,
        desc=desc,
        unit="step",
        unit_scale=True,
        dynamic_ncols=True,
        disable=os.environ.get("JIRL_NO_PROGRESS") == "1",
        file=sys.stderr,
    )


def run_summary(final_eval: dict, env_steps: int, wall_s: float, run_dir: Path) -> dict:
    """The headline figures every training script prints last."""
    return {
        "mean_return": final_eval["mean_return"],
        "std_return": final_eval["std_return"],
        **({"normalized_score": final_eval["normalized_score"]} if "normalized_score" in final_eval else {}),
        "env_steps": int(env_steps),
        "wall_s": round(wall_s, 1),
        "steps_per_s": round(env_steps / max(wall_s, 1e-9), 1),
        "machine": machine_description(),
        "run_dir": str(run_dir),
        "policy": str(Path(run_dir) / "policy.msgpack"),
    }


def print_final_json(summary: dict) -> None:
    """The last stdout line of every experiment: one JSON object with its headline figures."""
    sys.stdout.flush()
    print(json.dumps(summary, sort_keys=False), flush=True)


class BestPolicy:
    """Keeps ``policy-best.msgpack``: the policy of the best periodic evaluation so far.

    The evaluation that picked it is optimistic (the best of many noisy estimates), so :meth:`report`
    re-evaluates that policy on episodes it was never selected on and returns those figures; the summary
    shows both. On resume, a file written after the checkpoint's step is discarded.
    """

    NAME = "policy-best.msgpack"

    def __init__(self, run_dir: Path, resume_step: int | None = None):
        self.path = Path(run_dir) / self.NAME
        self.best_return, self.best_step = -float("inf"), None
        if self.path.exists():
            from jirl.policy import load_policy

            meta = load_policy(self.path).meta
            if resume_step is not None and meta.get("env_steps", 0) <= resume_step:
                self.best_return, self.best_step = float(meta["eval_mean_return"]), int(meta["env_steps"])
            else:
                self.path.unlink()

    def offer(self, step: int, mean_return: float, policy_bytes: Callable[[dict], bytes]) -> None:
        """After an evaluation: write the policy (``policy_bytes(meta)``) if it beat every earlier one."""
        if mean_return > self.best_return:
            self.best_return, self.best_step = float(mean_return), int(step)
            atomic_write_bytes(self.path, policy_bytes({"env_steps": int(step), "eval_mean_return": float(mean_return)}))

    def report(self, env, episodes: int, seed: int, reference_lines: dict) -> dict:
        """Summary fields: where the best evaluation was, and the best policy's return on fresh episodes."""
        if self.best_step is None:
            return {}
        from jirl.envs.gym_bridge import run_episodes
        from jirl.policy import load_policy

        returns, _, _ = run_episodes(env, load_policy(self.path), episodes, seed=seed)
        out = {
            "best_policy": str(self.path),
            "best_eval_env_steps": self.best_step,
            "best_eval_return": self.best_return,
            "best_policy_fresh_mean_return": float(np.mean(returns)),
            "best_policy_fresh_std_return": float(np.std(returns)),
            "best_policy_fresh_episodes": len(returns),
        }
        if "expert" in reference_lines and "random" in reference_lines:
            lo, hi = reference_lines["random"], reference_lines["expert"]
            out["best_policy_fresh_normalized_score"] = float((np.mean(returns) - lo) / (hi - lo))
        return out


def read_summary(run_dir: str | os.PathLike) -> dict | None:
    """The ``summary.json`` a finished run leaves in its folder, or None (missing or unreadable: not finished)."""
    path = Path(run_dir) / "summary.json"
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


# ----------------------------------------------------------------------------------------------------------
# Seeds as a batch dimension (``--num-seeds K``): K agents trained in one compiled program.


def stack_trees(trees: list) -> Any:
    """``[tree_0, ..., tree_{K-1}] -> tree`` with a leading axis K on every leaf (None leaves stay None)."""
    return jax.tree_util.tree_map(lambda *xs: jax.numpy.stack(xs), *trees)


def tree_index(tree: Any, k: int) -> Any:
    """Seed ``k``'s slice of a tree stacked by :func:`stack_trees`."""
    return jax.tree_util.tree_map(lambda x: x[k], tree)


def seed_run_dirs(run_dir: Path, seeds: list[int]) -> list[Path]:
    """Where each seed's files go: ``run_dir`` itself for one seed, ``run_dir/seed-<S>`` for several."""
    return [Path(run_dir)] if len(seeds) == 1 else [Path(run_dir) / f"seed-{s}" for s in seeds]


def draw_reference_lines(ax, reference_lines: dict, first_color: int) -> None:
    """Dashed horizontal lines (name -> value), with the y range widened so that none sits on the frame (a
    curve that ends just below the expert's return would otherwise hide the expert line under the top edge)."""
    for i, (name, value) in enumerate(reference_lines.items()):
        ax.axhline(value, color=f"C{first_color + i}", linestyle="--", label=f"{name} ({value:,.0f})")
    if reference_lines:
        lo, hi = ax.get_ylim()
        pad = 0.04 * (hi - lo)
        ax.set_ylim(min(lo, min(reference_lines.values()) - pad), max(hi, max(reference_lines.values()) + pad))


def plot_seed_curves(path: Path, histories: list[list[dict]], seeds: list[int], title: str, reference_lines: dict) -> None:
    """Every seed's evaluation curve (thin) and their mean ± std over seeds (thick, shaded) in one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from jirl.fileio import save_figure

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for seed, hist in zip(seeds, histories, strict=True):
        ax.plot([r["env_steps"] for r in hist], [r["mean_return"] for r in hist], lw=0.8, alpha=0.5, label=f"seed {seed}")
    n = min(len(h) for h in histories)
    if n:
        steps = np.array([r["env_steps"] for r in histories[0][:n]])
        curves = np.array([[r["mean_return"] for r in h[:n]] for h in histories])
        mean, std = curves.mean(0), curves.std(0)
        ax.plot(steps, mean, color="k", lw=2, label=f"mean over {len(seeds)} seeds")
        ax.fill_between(steps, mean - std, mean + std, color="k", alpha=0.12, label="± 1 std over seeds")
    draw_reference_lines(ax, reference_lines, first_color=len(seeds))
    ax.set_xlabel("env steps (per seed)")
    ax.set_ylabel("evaluation return")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=7, ncol=2 if len(seeds) > 6 else 1)
    save_figure(fig, path, dpi=110)


def multi_seed_summary(per_seed: list[dict], seeds: list[int], env_steps: int, wall_s: float, run_dir: Path) -> dict:
    """The headline figures of a ``--num-seeds K`` run: mean and std over seeds of every seed's final figures,
    the per-seed values, and the total throughput of the K agents together."""
    out: dict[str, Any] = {"num_seeds": len(seeds), "seeds": seeds}
    for key in ("mean_return", "normalized_score", "best_policy_fresh_mean_return", "best_policy_fresh_normalized_score"):
        vals = [s[key] for s in per_seed if key in s]
        if len(vals) == len(per_seed):
            out[key] = float(np.mean(vals))
            out[f"{key}_std_over_seeds"] = float(np.std(vals))
            out[f"{key}_per_seed"] = vals
    total = env_steps * len(seeds)
    out.update(
        env_steps=int(env_steps),
        total_env_steps=int(total),
        wall_s=round(wall_s, 1),
        steps_per_s=round(total / max(wall_s, 1e-9), 1),
        machine=machine_description(),
        run_dir=str(run_dir),
        curve=str(Path(run_dir) / "curve.png"),
        per_seed=per_seed,
    )
    return out


def init_per_seed(init_one, keys: jax.Array) -> Any:
    """``init_one(key)`` for each seed's key ``[K, 2]``, stacked (leading axis K). One call per seed rather than one
    vmapped call, so that seed k of a K-seed run starts from bit-for-bit the parameters a single run with that
    seed gets (a vmapped init may round differently: jirl's orthogonal init does, by ~1e-6)."""
    return stack_trees([init_one(k) for k in keys])


def split_seed_keys(keys: jax.Array, n: int) -> jax.Array:
    """Split each seed's key ``[K, 2]`` into ``n``: returns ``[n, K, 2]`` (unpack as ``a, b, ... = ...``)."""
    return jax.numpy.swapaxes(jax.vmap(lambda k: jax.random.split(k, n))(keys), 0, 1)


def load_seed_checkpoint(run_dir: Path, template: Any, num_seeds: int) -> tuple[Any, dict]:
    """``--resume`` of a run of ``num_seeds`` seeds: the checkpoint in ``run_dir`` restored into ``template``
    (stacked over seeds; a one-seed run stores the unstacked tree). A run made with another ``--num-seeds`` or
    config is a :class:`UserError`."""
    try:
        tree, meta = load_checkpoint(run_dir, tree_index(template, 0) if num_seeds == 1 else template)
    except ValueError as e:
        raise UserError(f"cannot resume {run_dir} with --num-seeds {num_seeds} and this config: {e}") from None
    if meta.get("num_seeds", 1) != num_seeds:
        raise UserError(f"cannot resume {run_dir}: it was trained with --num-seeds {meta.get('num_seeds', 1)}, not {num_seeds}")
    return (stack_trees([tree]) if num_seeds == 1 else tree), meta


def save_seed_checkpoints(run_dir: Path, dirs: list[Path], tree: Any, meta: dict, seed_meta: Callable[[int], dict] | None = None) -> None:
    """Every seed's own checkpoint (its slice of the stacked ``tree``; resumable as a single run with that seed),
    then, for several seeds, the combined one in ``run_dir`` that ``--resume`` reads (written last)."""
    for k, d in enumerate(dirs):
        save_checkpoint(d, tree_index(tree, k), dict(meta, **(seed_meta(k) if seed_meta else {})))
    if len(dirs) > 1:
        save_checkpoint(run_dir, tree, dict(meta, num_seeds=len(dirs)))


def record_seed_evals(step: int, returns: np.ndarray, loggers: list, bests: list, policy_bytes: Callable[[int, dict], bytes], curve: dict) -> list[dict]:
    """Log every seed's evaluation returns (``[K, E]``), keep each seed's best policy, and redraw the
    all-seeds curve (``curve``: :func:`plot_seed_curves` keyword arguments, used when K > 1)."""
    import functools

    rows = []
    for k, (logger, best) in enumerate(zip(loggers, bests, strict=True)):
        rows.append(logger.log_eval(step, returns[k]))
        best.offer(step, rows[-1]["mean_return"], functools.partial(policy_bytes, k))
    if len(loggers) > 1:
        plot_seed_curves(histories=[lg.eval_history for lg in loggers], **curve)
    return rows


def finish_seed_summary(per_seed: list[dict], seeds: list[int], env_steps: int, wall_s: float, run_dir: Path) -> dict:
    """The final summary: one seed's own, or :func:`multi_seed_summary` (also written to ``run_dir/summary.json``)."""
    if len(seeds) == 1:
        return per_seed[0]
    summary = multi_seed_summary(per_seed, seeds, env_steps, wall_s, run_dir)
    atomic_write_bytes(run_dir / "summary.json", json.dumps(summary, indent=2).encode())
    return summary


def open_seed_loggers(cfg: Any, run_dir: Path, dirs: list[Path], seeds: list[int], title: str, reference_lines: dict, seed_config: Callable[[int], Any], resume_step: int | None) -> list:
    """One :class:`RunLogger` per seed (``title`` gets ``(seed S)``). On resume (``resume_step`` given) the
    records logged after that step are dropped; on a fresh start each seed's folder gets its own config.json
    (``seed_config(k)``) and, for several seeds, ``run_dir`` the whole run's."""
    loggers = [RunLogger(d, f"{title} (seed {s})", reference_lines=reference_lines) for d, s in zip(dirs, seeds, strict=True)]
    if resume_step is not None:
        for logger in loggers:
            logger.truncate_after(resume_step)
        print(f"resumed {run_dir} at env step {resume_step:,}" + (f" per seed ({len(seeds)} seeds)" if len(seeds) > 1 else ""), flush=True)
    else:
        for k, d in enumerate(dirs):
            (d / "config.json").write_text(json.dumps(config_to_dict(seed_config(k)), indent=2))
        if len(seeds) > 1:
            (run_dir / "config.json").write_text(json.dumps(config_to_dict(cfg), indent=2))
    return loggers
