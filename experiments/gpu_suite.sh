#!/usr/bin/env bash
# The GPU figures of issue 7, as run on a lent GPU machine (BENCHMARKS.md, "On a GPU"). Each part is a list of
# repo commands with a time limit each; a failing command is logged and the next one runs.
#
#   bash experiments/gpu_suite.sh throughput   # PPO/GAIL env steps/s on the MJX twin and the bridge, 1 vs 16 seeds, SAC updates/s
#   bash experiments/gpu_suite.sh gail         # GAIL on the twin (3 vmapped seeds), evaluated in Gymnasium: time to 0.9
#   bash experiments/gpu_suite.sh twin         # the twin-vs-Gymnasium agreement tests and MJX env steps/s, on the GPU
#
# Logs, the final JSON lines and a copy of BENCHMARKS.md (with the rows --record appended) go to $OUT
# (default gpu-out/). On a machine without jirl's dependencies, first install wheels fetched by
# ../shared/tools/gpu-wheels.sh into .whl/ (this script does it when .whl/ exists).
set -u
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
export JIRL_NO_PROGRESS=1 JAX_COMPILATION_CACHE_DIR=${JAX_COMPILATION_CACHE_DIR:-/tmp/jax-cache}
if [ -d .whl ] && ! python3 -c "import tyro, gymnasium, mujoco.mjx" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site:$PWD || exit 1
fi
export PYTHONPATH=${PYTHONPATH:-$PWD}
SUITE_START=$(date +%s)

# step NAME LIMIT_S COMMAND...: run COMMAND with a time limit, log to $OUT/NAME.log, print its last line.
step() {
  local name=$1 limit=$2; shift 2
  local t0; t0=$(date +%s.%N)
  echo "$t0" > "$OUT/$name.start"
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  echo "== $name rc=$rc $(python3 -c "import time; print(round(time.time() - $t0, 1))") s (suite at $(( $(date +%s) - SUITE_START )) s): $*" | tee -a "$OUT/steps.txt"
  tail -n 1 "$OUT/$name.log" | cut -c1-600
  cp BENCHMARKS.md "$OUT/BENCHMARKS.md"  # after every step: the rows so far survive a cut-off
}

python3 - > "$OUT/versions.txt" 2>&1 <<'EOF'
import jax, flax, optax, chex, numpy, sys
print(sys.version.split()[0], "jax", jax.__version__, "flax", flax.__version__, "optax", optax.__version__, "numpy", numpy.__version__)
print(jax.devices())
import gymnasium, mujoco
print("gymnasium", gymnasium.__version__, "mujoco", mujoco.__version__)
from mujoco import mjx  # noqa: F401
print("mjx ok")
EOF
cat "$OUT/versions.txt"
nvidia-smi -L 2>/dev/null | tee -a "$OUT/versions.txt"

B="python3 experiments/benchmark.py --out BENCHMARKS.md"
case "${1:-throughput}" in
throughput)
  # PPO / GAIL, the whole round on the device (MJX twin): 4,096 envs x 16 steps, minibatch 8,192, 4 epochs.
  step ppo-mjx-4096 240 $B --algo ppo --backend mjx --num-envs 4096 --rollout-steps 16 --minibatch-size 8192 --epochs 4 --warmup-steps 131072 --measure-steps 1310720
  step gail-mjx-4096 240 $B --algo gail --backend mjx --num-envs 4096 --rollout-steps 16 --minibatch-size 8192 --epochs 4 --warmup-steps 131072 --measure-steps 1310720
  # 1 vs 16 vmapped seeds, 256 envs x 16 steps per seed, minibatch 1,024, 4 epochs.
  step gail-mjx-256-x1 180 $B --algo gail --backend mjx --num-envs 256 --rollout-steps 16 --minibatch-size 1024 --epochs 4 --warmup-steps 8192 --measure-steps 163840 --num-seeds 1
  step gail-mjx-256-x16 180 $B --algo gail --backend mjx --num-envs 256 --rollout-steps 16 --minibatch-size 1024 --epochs 4 --warmup-steps 8192 --measure-steps 163840 --num-seeds 16
  # SAC updates/s (one per call, and 1,000 fused in a lax.scan); SAC, PPO, GAIL through the Gymnasium bridge.
  step profile-sac 60 python3 experiments/profile_sac.py --seconds 3 --fused 1000
  step sac-bridge 120 $B --algo sac --warmup-steps 2000 --measure-steps 5000
  step ppo-bridge 90 $B --algo ppo --measure-steps 40960
  step gail-bridge 90 $B --algo gail --measure-steps 40960
  ;;
gail)
  # GAIL on the twin, 3 vmapped seeds, evaluated in Gymnasium every 100k env steps; time to 0.9 from eval.jsonl.
  step gail-twin 560 python3 experiments/gail.py --backend mjx --num-seeds 3 --num-envs "${GAIL_ENVS:-128}" --ppo.num-steps "${GAIL_T:-32}" \
    --disc.steps-per-round "${GAIL_DISC:-16}" --eval-every 100000 --checkpoint-every 0 --run-dir "$OUT/gail-twin"
  python3 - "$OUT" <<'EOF'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1]); start = float((out / "gail-twin.start").read_text())
for d in sorted((out / "gail-twin").glob("seed-*")):
    rows = [json.loads(x) for x in (d / "eval.jsonl").read_text().splitlines()]
    hit = next((r for r in rows if r["normalized_score"] >= 0.9), None)
    print(d.name, "final", round(rows[-1]["normalized_score"], 3), "first >= 0.9:",
          None if hit is None else {"env_steps": hit["env_steps"], "wall_s_from_start": round(hit["time"] - start, 1)})
EOF
  ;;
twin)
  step twin-tests 300 python3 -m pytest -q -x tests/test_mjx_twin.py tests/test_mjx_backend.py
  step mjx-speed 240 python3 experiments/mjx_speed.py --num-envs 1024 8192 --env-steps 819200 --gym-steps 0
  ;;
*) echo "unknown part ${1}; use throughput, gail or twin" >&2; exit 2 ;;
esac
echo "suite done in $(( $(date +%s) - SUITE_START )) s"
