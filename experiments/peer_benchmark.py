"""Side-by-side speed benchmark: jirl and its peers (Stable-Baselines3, sbx, imitation) with the same settings,
one after the other in one invocation on one machine, so the speed claims can be checked by anyone.

    python experiments/peer_benchmark.py                                # SAC, PPO and GAIL vs SB3, sbx, imitation (~15 min)
    python experiments/peer_benchmark.py --algos sac --measure-steps 2000    # a quick look at SAC
    python experiments/peer_benchmark.py --algos ppo gail --measure-rollouts 10 --num-envs 1
    python experiments/peer_benchmark.py --jirl-only                    # jirl's side only (no peers environment)
    python experiments/peer_benchmark.py --record                       # also append the table to BENCHMARKS.md

The peers run in their own virtual environment (--peers-venv, default .peers-venv in the repository), made
and filled on first use: torch (the CPU build: from the PyTorch CPU index, else a CPU wheel in pip's local
find-links, else plain PyPI), stable-baselines3 2.9.2, sbx-rl 0.28.0 and imitation 1.0.1, with gymnasium,
mujoco, jax and jaxlib at the versions jirl runs with. imitation 1.0.1 pins gymnasium~=0.29 (which has no
HalfCheetah-v5) and stable-baselines3~=2.2.1 (sbx 0.28 needs >=2.9), so it is installed without its pins
(--no-deps, plus tensorboard, the one requirement its GAIL imports); its GAIL runs with them.
--skip-install uses the environment as it is.

Settings and measured windows (HalfCheetah-v5; jirl's side is `experiments/benchmark.py --no-record`):
  sac   256x256 actor and twin critics, batch 256, 1 update per env step, 1 env, 1M replay. --learning-starts
        random steps and --warmup-steps learning steps (jirl's and sbx's compilation) run first; then
        --measure-steps env steps are timed (env step, replay write, one update).
  ppo   64x64 tanh, 2048 env steps per rollout (--num-envs envs), 10 epochs of minibatches of 64, observations
        and rewards normalized, no evaluation. --warmup-rollouts rollouts run first; then --measure-rollouts
        rollouts are timed (collection and updates). Peer: SB3 PPO (DummyVecEnv + VecNormalize).
  gail  the PPO learner above, a 64x64 tanh discriminator on (state, action), 8 discriminator steps of 256
        expert + 256 policy samples per rollout, the first 4 episodes of jirl's shipped demonstrations. Peer:
        imitation's GAIL with an SB3 PPO learner.

jirl sums its per-rollout (per 1,000 steps for SAC) timers over the window; the peers time the window by
wall clock from a callback at its first step to the end of training.

Prints a markdown table (algo, setting, jirl and peer env steps/s, ratio) with the date, the machine and the
versions; --record appends it to BENCHMARKS.md. Last stdout line: a JSON summary.
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib.metadata
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Literal

from jirl.cli import run
from jirl.fileio import BENCHMARK_TABLE_HEADER, append_markdown_rows
from jirl.loops.common import UserError

REPO = Path(__file__).resolve().parents[1]
EXPERIMENTS = REPO / "experiments"
PEERS_DIR = EXPERIMENTS / "peers"

SB3_VERSION, SBX_VERSION, IMITATION_VERSION = "2.9.2", "0.28.0", "1.0.1"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
DISC_STEPS = 8  # jirl.loops.gail: discriminator steps per 2048-step round with the ppo learner (--disc.steps-per-round default)
VERSIONED = ("torch", "stable-baselines3", "sbx-rl", "imitation", "tensorboard", "gymnasium", "mujoco", "jax", "jaxlib", "flax", "numpy")

# peer name -> (algo, script, install groups it needs)
PEERS = {
    "SB3 SAC": ("sac", "sb3_sac.py", ("core",)),
    "sbx SAC": ("sac", "sbx_sac.py", ("core", "sbx")),
    "SB3 PPO": ("ppo", "sb3_ppo.py", ("core",)),
    "imitation GAIL": ("gail", "imitation_gail.py", ("core", "imitation")),
}
PEER_PACKAGE = {"SB3 SAC": "stable-baselines3", "sbx SAC": "sbx-rl", "SB3 PPO": "stable-baselines3", "imitation GAIL": "imitation"}

SECTION = "## Side by side with the peers (experiments/peer_benchmark.py)"
SECTION_TEXT = (
    "jirl and each peer run one after the other in one invocation, on the same machine, with the same settings "
    "(see the\nscript's docstring for the measured windows). Peers run in their own virtual environment; "
    "their versions are in the figures."
)
HEADER = BENCHMARK_TABLE_HEADER


@dataclasses.dataclass(frozen=True)
class PeerBenchmarkConfig:
    """Measure env steps/s of jirl and its peers side by side with identical settings."""

    algos: tuple[Literal["sac", "ppo", "gail"], ...] = ("sac", "ppo", "gail")
    """Which algorithms to compare (jirl's SAC vs SB3 and sbx, PPO vs SB3, GAIL vs imitation)."""
    env_id: str = "HalfCheetah-v5"
    """Gymnasium env id (gail: jirl must ship demonstrations for it)."""
    learning_starts: int = 1_000
    """sac: random-action steps before learning (not measured)."""
    warmup_steps: int = 3_000
    """sac: learning steps run before the measured window (compilation, caches); at least 1,000 (jirl's first
    1,000 learning steps are one compiled call that includes its compilation), and learning_starts + warmup_steps
    must be a multiple of 1,000 (jirl logs its timers every 1,000 steps)."""
    measure_steps: int = 10_000
    """sac: env steps measured (a multiple of 1,000)."""
    num_envs: int = 8
    """ppo/gail: parallel envs, each collecting 2048/num_envs steps per rollout."""
    warmup_rollouts: int = 3
    """ppo/gail: rollouts run before the measured window (>= 1: the first one holds jirl's compilation)."""
    measure_rollouts: int = 100
    """ppo/gail: rollouts (of 2,048 env steps) measured."""
    seed: int = 0
    """Seed of every run."""
    torch_threads: int = 0
    """Peers: torch.set_num_threads (0: torch's default, one thread per core). On a busy machine 1 avoids
    threads spinning against other processes."""
    peers_venv: str | None = None
    """Virtual environment of the peers (default: .peers-venv in the repository); made and filled when missing."""
    skip_install: bool = False
    """Use --peers-venv as it is: no pip runs."""
    jirl_only: bool = False
    """Run jirl's side only (no peers environment is made or used)."""
    record: bool = False
    """Append the table to --out."""
    out: str = "BENCHMARKS.md"
    """Markdown file that --record appends to."""


# ----------------------------------------------------------------------------------------------- peers venv


def _note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _versions_in(python: Path | str) -> dict[str, str]:
    """Installed versions of VERSIONED packages in the interpreter ``python``."""
    code = (
        "import importlib.metadata as m, json\nout = {}\n"
        f"for n in {VERSIONED!r}:\n    try: out[n] = m.version(n)\n    except m.PackageNotFoundError: pass\nprint(json.dumps(out))"
    )
    res = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    return json.loads(res.stdout) if res.returncode == 0 else {}


def _jirl_pins() -> dict[str, str]:
    """The versions jirl runs with, which the peers get too (same simulator, same JAX for sbx)."""
    pins = {}
    for name in ("gymnasium", "mujoco", "jax", "jaxlib"):
        try:
            pins[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return pins


def _pip(venv: Path, log: Path, *args: str) -> tuple[bool, str]:
    """Run ``pip args`` in ``venv``, appending its output to ``log``; returns (ok, last error line)."""
    cmd = [str(_python(venv)), "-m", "pip", "--disable-pip-version-check", *args]
    with open(log, "a") as f:
        f.write(f"\n$ {' '.join(cmd)}\n")
        f.flush()
        offset = f.tell()
        res = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, text=True)
    if res.returncode == 0:
        return True, ""
    with open(log) as f:
        f.seek(offset)
        lines = [line.strip() for line in f.read().splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR")] or lines[-1:]
    return False, errors[-1] if errors else f"pip exited {res.returncode}"


def _reachable(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=15) as res:
            return res.status == 200
    except (OSError, ValueError):
        return False


def _install_torch(venv: Path, log: Path) -> str | None:
    """Install torch's CPU build; returns where it came from, or None when every way failed."""
    if _reachable(f"{TORCH_CPU_INDEX}/torch/"):
        _note(f"peers venv: installing torch (CPU build from {TORCH_CPU_INDEX}) ...")
        if _pip(venv, log, "install", "--index-url", TORCH_CPU_INDEX, "torch")[0]:
            return f"{TORCH_CPU_INDEX} (torch {_versions_in(_python(venv)).get('torch', '?')})"
    else:
        _note(f"peers venv: the PyTorch CPU index ({TORCH_CPU_INDEX}) is not reachable from here")
    # A CPU wheel in pip's configured find-links (a local wheelhouse), with its dependencies from the index.
    ok, _ = _pip(venv, log, "install", "--no-index", "--no-deps", "torch")
    version = _versions_in(_python(venv)).get("torch", "") if ok else ""
    if "+cpu" in version and _pip(venv, log, "install", f"torch=={version}")[0]:
        _note(f"peers venv: using the CPU wheel torch {version} from pip's find-links")
        return f"a CPU wheel in pip's find-links (torch {version})"
    if version:
        _pip(venv, log, "uninstall", "-y", "torch")
    _note("peers venv: installing torch from PyPI (the CUDA build: large, runs on CPU) ...")
    if _pip(venv, log, "install", "torch")[0]:
        return f"PyPI (torch {_versions_in(_python(venv)).get('torch', '?')})"
    return None


def ensure_peers_venv(venv: Path, skip_install: bool) -> dict:
    """Make and fill the peers' virtual environment when needed. Returns ``{"versions", "torch_source",
    "failed": {group: message}}``; groups: core (torch, SB3, gymnasium[mujoco]), sbx, imitation."""
    marker = venv / "jirl-peers.json"
    pins = _jirl_pins()
    spec = {"sb3": SB3_VERSION, "sbx": SBX_VERSION, "imitation": IMITATION_VERSION, **pins}
    state = json.loads(marker.read_text()) if marker.exists() else {}
    if not _python(venv).exists():
        if skip_install:
            return {"versions": {}, "torch_source": None, "failed": {"core": f"{venv} does not exist; fix: run without --skip-install to make it"}}
        _note(f"peers venv: creating {venv} ...")
        res = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True)
        if res.returncode != 0:
            msg = (res.stderr.strip().splitlines() or ["?"])[-1]
            return {"versions": {}, "torch_source": None, "failed": {"core": f"could not create {venv} ({msg}); fix: install python3-venv"}}
        state = {}
    if skip_install or (state.get("spec") == spec and not state.get("failed")):
        versions = _versions_in(_python(venv))
        failed = {} if "stable-baselines3" in versions and "torch" in versions else {"core": f"torch or stable-baselines3 missing in {venv}"}
        if "sbx-rl" not in versions:
            failed["sbx"] = f"sbx-rl missing in {venv}"
        if "imitation" not in versions:
            failed["imitation"] = f"imitation missing in {venv}"
        for group in failed:
            failed[group] += "; fix: run without --skip-install" if skip_install else f"; fix: rm -rf {venv} and rerun"
        return {"versions": versions, "torch_source": state.get("torch_source"), "failed": failed}

    log = venv / "jirl-peers-install.log"
    log.write_text("")
    failed: dict[str, str] = {}
    pin = lambda name: [f"{name}=={pins[name]}"] if name in pins else []
    if "torch" in _versions_in(_python(venv)):
        torch_source = state.get("torch_source") or "already in the environment"
    else:
        torch_source = _install_torch(venv, log)
    if torch_source is None:
        failed["core"] = f"torch did not install (see {log}); fix: install it by hand with {_python(venv)} -m pip install torch"
    else:
        torch_pin = f"torch=={_versions_in(_python(venv))['torch']}"  # later installs keep this torch
        _note(f"peers venv: installing stable-baselines3 {SB3_VERSION}, gymnasium[mujoco] ...")
        gym = f"gymnasium[mujoco]=={pins['gymnasium']}" if "gymnasium" in pins else "gymnasium[mujoco]"
        ok, err = _pip(venv, log, "install", torch_pin, f"stable-baselines3=={SB3_VERSION}", gym, *pin("mujoco"))
        if not ok:
            failed["core"] = (
                f"stable-baselines3 {SB3_VERSION} / gymnasium[mujoco] did not install ({err}); fix: see the pip command and its output in {log}"
            )
        else:
            _note(f"peers venv: installing sbx-rl {SBX_VERSION} ...")
            ok, err = _pip(venv, log, "install", torch_pin, f"sbx-rl=={SBX_VERSION}", *pin("jax"), *pin("jaxlib"))
            if not ok:  # jirl's jax may be outside sbx's range: let pip pick sbx's
                ok, err = _pip(venv, log, "install", torch_pin, f"sbx-rl=={SBX_VERSION}")
            if not ok:
                failed["sbx"] = f"sbx-rl {SBX_VERSION} did not install ({err}); fix: see the pip command and its output in {log}"
            _note(f"peers venv: installing imitation {IMITATION_VERSION} (without its pins) ...")
            ok, err = _pip(venv, log, "install", "--no-deps", f"imitation=={IMITATION_VERSION}")
            ok2, err2 = _pip(venv, log, "install", torch_pin, "tensorboard", "tqdm") if ok else (False, "")
            if not (ok and ok2):
                failed["imitation"] = (
                    f"imitation {IMITATION_VERSION} did not install ({err or err2}); fix: see the pip command and its output in {log}"
                )
    versions = _versions_in(_python(venv))
    marker.write_text(json.dumps({"spec": spec, "torch_source": torch_source, "failed": failed, "versions": versions}, indent=1) + "\n")
    return {"versions": versions, "torch_source": torch_source, "failed": failed}


# ---------------------------------------------------------------------------------------------------- runs


def _last_json(stdout: str) -> dict | None:
    for line in reversed(stdout.strip().splitlines()):
        try:
            out = json.loads(line)
        except json.JSONDecodeError:
            continue
        return out if isinstance(out, dict) else None
    return None


def _run(cmd: list[str]) -> tuple[dict | None, str]:
    """Run ``cmd`` in the repository; returns (its last JSON line, a one-line error or '')."""
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=dict(os.environ, JIRL_NO_PROGRESS="1"))
    summary = _last_json(res.stdout) if res.returncode == 0 else None
    if summary is not None and "env_steps_per_s" in summary:
        return summary, ""
    lines = [line.strip() for line in res.stderr.splitlines() if line.strip()]
    return None, f"exit {res.returncode}: {lines[-1] if lines else 'no JSON line on stdout'}"


def _sac_window(cfg: PeerBenchmarkConfig) -> list[str]:
    """The SAC measurement window's flags, the same for jirl's script and the peers'."""
    return ["--learning-starts", str(cfg.learning_starts), "--warmup-steps", str(cfg.warmup_steps), "--measure-steps", str(cfg.measure_steps)]


def jirl_command(cfg: PeerBenchmarkConfig, algo: str) -> list[str]:
    cmd = [sys.executable, "experiments/benchmark.py", "--algo", algo, "--no-record", "--env-id", cfg.env_id, "--seed", str(cfg.seed)]
    if algo == "sac":
        return cmd + _sac_window(cfg)
    return cmd + [
        "--num-envs",
        str(cfg.num_envs),
        "--warmup-steps",
        str(cfg.warmup_rollouts * 2048),
        "--measure-steps",
        str(cfg.measure_rollouts * 2048),
    ]


def peer_command(cfg: PeerBenchmarkConfig, python: Path, peer: str) -> list[str]:
    algo, script, _ = PEERS[peer]
    cmd = [str(python), str(PEERS_DIR / script), "--env-id", cfg.env_id, "--seed", str(cfg.seed), "--torch-threads", str(cfg.torch_threads)]
    if algo == "sac":
        return cmd + _sac_window(cfg)
    cmd += ["--num-envs", str(cfg.num_envs), "--warmup-rollouts", str(cfg.warmup_rollouts), "--measure-rollouts", str(cfg.measure_rollouts)]
    if algo == "gail":
        from jirl.algorithms.gail import DiscriminatorConfig
        from jirl.loops.gail import DEFAULT_DEMOS, GAILTrainConfig

        demos = DEFAULT_DEMOS[cfg.env_id]
        cmd += ["--demos", str(demos), "--num-demos", str(GAILTrainConfig().num_demos)]
        cmd += ["--disc-steps", str(DISC_STEPS), "--disc-batch", str(DiscriminatorConfig().batch_size)]
    return cmd


def _check(cfg: PeerBenchmarkConfig) -> None:
    if not cfg.algos:
        raise UserError("--algos needs at least one of sac, ppo, gail")
    if "sac" in cfg.algos:
        if cfg.measure_steps < 1000 or cfg.measure_steps % 1000:
            raise UserError("--measure-steps must be a positive multiple of 1000")
        if cfg.learning_starts < 1 or cfg.warmup_steps < 1000 or (cfg.learning_starts + cfg.warmup_steps) % 1000:
            raise UserError("--learning-starts must be >= 1, --warmup-steps >= 1000 (jirl's first 1,000 learning steps include compilation), and their sum a multiple of 1000")
    if {"ppo", "gail"} & set(cfg.algos):
        if cfg.num_envs < 1 or 2048 % cfg.num_envs:
            raise UserError("--num-envs must divide 2048 (e.g. 1, 2, 4, 8, 16, 32)")
        if cfg.warmup_rollouts < 1 or cfg.measure_rollouts < 1:
            raise UserError("--warmup-rollouts and --measure-rollouts must be >= 1")
    if "gail" in cfg.algos:
        from jirl.loops.gail import DEFAULT_DEMOS

        if cfg.env_id not in DEFAULT_DEMOS:
            raise UserError(f"gail: jirl ships no demonstrations for {cfg.env_id} (it has {', '.join(DEFAULT_DEMOS)}); drop gail from --algos")
    if cfg.torch_threads < 0:
        raise UserError("--torch-threads must be >= 0")
    if cfg.record and cfg.jirl_only:
        raise UserError("--record needs the peers' figures; drop --jirl-only")


# --------------------------------------------------------------------------------------------------- table


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def peer_label(peer: str, versions: dict[str, str], torch_threads: int | None = None) -> str:
    """E.g. ``SB3 2.9.2 SAC (torch 2.13.0+cpu, 2 threads)``."""
    if PEER_PACKAGE[peer] not in versions:
        return peer
    first, algo = peer.split(" ", 1)
    label = f"{first} {versions[PEER_PACKAGE[peer]]} {algo}"
    backend = "jax" if peer == "sbx SAC" else "torch"
    threads = f", {torch_threads} thread{'s' if torch_threads > 1 else ''}" if torch_threads and backend == "torch" else ""
    return label + (f" ({backend} {versions[backend]}{threads})" if backend in versions else "")


def markdown_table(rows: list[dict]) -> str:
    out = ["| algo | setting | jirl env steps/s | peer | peer env steps/s | ratio jirl/peer |", "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        peer = r["peer_label"] or "-"
        if r["error"]:
            peer += " (failed)" if r["peer"] else ""
        ratio = f"{r['ratio']:.2f}x" if r["ratio"] is not None else "-"
        out.append(f"| {r['algo']} | {r['setting']} | {_fmt(r['jirl_env_steps_per_s'])} | {peer} | {_fmt(r['peer_env_steps_per_s'])} | {ratio} |")
    return "\n".join(out)


def append_rows(path: Path, rows: list[str]) -> None:
    """Add ``rows`` to the table of the side-by-side section of ``path`` (see :func:`append_markdown_rows`)."""
    append_markdown_rows(path, SECTION, SECTION_TEXT, rows, HEADER)


# ---------------------------------------------------------------------------------------------------- main


def peer_benchmark(cfg: PeerBenchmarkConfig) -> dict:
    _check(cfg)
    from jirl.loops.common import machine_description

    t_start = time.time()
    venv = Path(cfg.peers_venv).resolve() if cfg.peers_venv else REPO / ".peers-venv"
    env = {"versions": {}, "torch_source": None, "failed": {}}
    if not cfg.jirl_only:
        env = ensure_peers_venv(venv, cfg.skip_install)
        for group, msg in env["failed"].items():
            _note(f"peers venv: {group}: {msg}")
    versions = env["versions"]
    rows = []
    for algo in cfg.algos:
        _note(f"jirl {algo.upper()}: running experiments/benchmark.py ...")
        jirl, err = _run(jirl_command(cfg, algo))
        if err:
            _note(f"jirl {algo.upper()}: failed ({err}); fix: rerun `python {' '.join(jirl_command(cfg, algo)[1:])}` to see the traceback")
        else:
            _note(f"jirl {algo.upper()}: {jirl['env_steps_per_s']:,.0f} env steps/s")
        base = {
            "algo": algo,
            "setting": jirl["setting"] if jirl else algo.upper(),
            "jirl_env_steps_per_s": jirl["env_steps_per_s"] if jirl else None,
            "jirl_measured_steps": jirl["measured_steps"] if jirl else None,
        }
        peers = [] if cfg.jirl_only else [p for p, spec in PEERS.items() if spec[0] == algo]
        if not peers:
            rows.append(
                {
                    **base,
                    "peer": None,
                    "peer_label": None,
                    "peer_env_steps_per_s": None,
                    "peer_measured_steps": None,
                    "ratio": None,
                    "error": err or None,
                }
            )
        for peer in peers:
            missing = [g for g in PEERS[peer][2] if g in env["failed"]]
            out, perr = None, ""
            if missing:
                perr = f"not installed ({env['failed'][missing[0]]})"
            else:
                _note(f"{peer}: running experiments/peers/{PEERS[peer][1]} ...")
                out, perr = _run(peer_command(cfg, _python(venv), peer))
                if perr:
                    cmd = " ".join(peer_command(cfg, _python(venv), peer))
                    perr += f"; fix: rerun `{cmd}` to see the traceback, or rm -rf {venv} and rerun to reinstall"
            if perr:
                _note(f"{peer}: failed: {perr}")
            else:
                _note(f"{peer}: {out['env_steps_per_s']:,.0f} env steps/s")
            psps = out["env_steps_per_s"] if out else None
            jsps = base["jirl_env_steps_per_s"]
            rows.append(
                {
                    **base,
                    "peer": peer,
                    "peer_label": peer_label(peer, out["versions"], out["torch_threads"]) if out else peer_label(peer, versions),
                    "peer_env_steps_per_s": psps,
                    "peer_measured_steps": out["measured_steps"] if out else None,
                    "ratio": round(jsps / psps, 2) if jsps and psps else None,
                    "error": perr or err or None,
                }
            )

    date, machine = datetime.date.today().isoformat(), machine_description()
    print(f"\n{cfg.env_id} side by side, {date}, {machine}")
    jirl_versions = {k: v for k, v in _versions_in(sys.executable).items() if k in ("jax", "jaxlib", "flax", "gymnasium", "mujoco", "numpy")}
    print("jirl: " + ", ".join(f"{k} {v}" for k, v in jirl_versions.items()))
    if versions:
        print("peers: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + (f"; torch from {env['torch_source']}" if env["torch_source"] else ""))
    print()
    print(markdown_table(rows))
    print(flush=True)

    recorded = 0
    if cfg.record:
        cmd = ("python experiments/peer_benchmark.py " + " ".join(sys.argv[1:])).strip()
        lines = []
        for r in rows:
            if r["ratio"] is None:
                continue
            figures = f"jirl **{_fmt(r['jirl_env_steps_per_s'])}**, {r['peer_label']} **{_fmt(r['peer_env_steps_per_s'])}**: **{r['ratio']:.2f}x**"
            lines.append(f"| {date} | {machine} | {r['setting']} | {figures} | `{cmd}` |")
        if lines:
            append_rows(Path(cfg.out), lines)
        recorded = len(lines)
        _note(f"recorded {recorded} row(s) in {cfg.out}" + ("" if recorded == len(rows) else " (failed rows left out)"))

    return {
        "date": date,
        "machine": machine,
        "env_id": cfg.env_id,
        "rows": rows,
        "failed": [f"{r['peer'] or 'jirl'} {r['algo']}" for r in rows if r["error"]],
        "jirl_versions": jirl_versions,
        "peer_versions": versions,
        "torch_source": env["torch_source"],
        "peers_venv": None if cfg.jirl_only else str(venv),
        "recorded_rows": recorded,
        "wall_s": round(time.time() - t_start, 1),
    }


if __name__ == "__main__":
    run(PeerBenchmarkConfig, peer_benchmark, __doc__)
