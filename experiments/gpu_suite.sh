#!/usr/bin/env bash
# The GPU figures of issue 7, as run on a lent GPU machine (BENCHMARKS.md, "On a GPU"). Each part is a list of
# repo commands with a time limit each; a failing command is logged and the next one runs.
#
#   bash experiments/gpu_suite.sh throughput   # PPO/GAIL env steps/s on the MJX twin and the bridge, 1 vs 16 seeds, SAC updates/s
#   bash experiments/gpu_suite.sh twin-speed   # PPO at 4,096 and GAIL at 16,384 twin envs
#   bash experiments/gpu_suite.sh twin-speed-xl   # PPO and GAIL at 65,536 twin envs
#   bash experiments/gpu_suite.sh gail         # GAIL on the twin (3 vmapped seeds), evaluated in Gymnasium: time to 0.9
#   bash experiments/gpu_suite.sh gail-1seed   # the same with one seed, evaluated every 200k steps
#   bash experiments/gpu_suite.sh seeds        # GAIL on the twin, 1 vs 16 vmapped seeds
#   bash experiments/gpu_suite.sh twin         # the twin-vs-Gymnasium agreement tests and MJX env steps/s, on the GPU
#   bash experiments/gpu_suite.sh twin-speed gail   # several parts, in this order
#
# Logs and run folders are written to $WORK (default /tmp/gpu-work) and packed after every step into
# $OUT/results.tgz (default OUT=gpu-out), next to $OUT/steps.txt (one line per command: exit code, seconds,
# last output line) and a copy of BENCHMARKS.md with the rows that --record appended.
# On a machine without jirl's dependencies, first fetch wheels with ../shared/tools/gpu-wheels.sh into .whl/
# (this script installs them when .whl/ exists and jirl's imports fail).
set -u
OUT=${OUT:-gpu-out}
WORK=${WORK:-/tmp/gpu-work}
mkdir -p "$OUT" "$WORK"
export JIRL_NO_PROGRESS=1 JAX_COMPILATION_CACHE_DIR=${JAX_COMPILATION_CACHE_DIR:-/tmp/jax-cache}
if [ -d .whl ] && ! python3 -c "import tyro, gymnasium, mujoco.mjx" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site:$PWD || exit 1
fi
export PYTHONPATH=${PYTHONPATH:-$PWD}
SUITE_START=$(date +%s)

# pack: copy what is done to $OUT (after every step, so that it survives a cut-off).
pack() {
  cp BENCHMARKS.md "$OUT/BENCHMARKS.md"
  tar czf "$OUT/results.tgz.tmp" -C "$WORK" . && mv "$OUT/results.tgz.tmp" "$OUT/results.tgz"
}

# step NAME LIMIT_S COMMAND...: run COMMAND with a time limit, log to $WORK/NAME.log, print its last line.
step() {
  local name=$1 limit=$2; shift 2
  local t0; t0=$(date +%s.%N)
  echo "$t0" > "$WORK/$name.start"
  timeout "$limit" "$@" > "$WORK/$name.log" 2>&1
  local rc=$?
  { echo "== $name rc=$rc $(python3 -c "import time; print(round(time.time() - $t0, 1))") s (suite at $(( $(date +%s) - SUITE_START )) s): $*"
    tail -n 1 "$WORK/$name.log" | cut -c1-600; } | tee -a "$OUT/steps.txt"
  pack
}

python3 - > "$WORK/versions.txt" 2>&1 <<'PY'
import jax, flax, optax, chex, numpy, sys
print(sys.version.split()[0], "jax", jax.__version__, "flax", flax.__version__, "optax", optax.__version__, "numpy", numpy.__version__)
print(jax.devices())
import gymnasium, mujoco
print("gymnasium", gymnasium.__version__, "mujoco", mujoco.__version__)
from mujoco import mjx  # noqa: F401
print("mjx ok")
PY
nvidia-smi -L >> "$WORK/versions.txt" 2>/dev/null
grep -v warp "$WORK/versions.txt"

B="python3 experiments/benchmark.py --out BENCHMARKS.md"
for part in "${@:-throughput}"; do
  case "$part" in
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
  twin-speed)
    step ppo-mjx-4096 150 $B --algo ppo --backend mjx --num-envs 4096 --rollout-steps 16 --minibatch-size 8192 --epochs 4 --warmup-steps 131072 --measure-steps 1310720
    step gail-mjx-16384 150 $B --algo gail --backend mjx --num-envs 16384 --rollout-steps 16 --minibatch-size 32768 --epochs 4 --warmup-steps 524288 --measure-steps 5242880
    ;;
  twin-speed-xl)
    step ppo-mjx-65536 150 $B --algo ppo --backend mjx --num-envs 65536 --rollout-steps 8 --minibatch-size 65536 --epochs 4 --warmup-steps 1048576 --measure-steps 10485760
    step gail-mjx-65536 150 $B --algo gail --backend mjx --num-envs 65536 --rollout-steps 8 --minibatch-size 65536 --epochs 4 --warmup-steps 1048576 --measure-steps 10485760
    ;;
  seeds)
    # 1 vs 16 vmapped seeds only (the throughput part measures them too)
    step gail-mjx-256-x1 180 $B --algo gail --backend mjx --num-envs 256 --rollout-steps 16 --minibatch-size 1024 --epochs 4 --warmup-steps 8192 --measure-steps 163840 --num-seeds 1
    step gail-mjx-256-x16 180 $B --algo gail --backend mjx --num-envs 256 --rollout-steps 16 --minibatch-size 1024 --epochs 4 --warmup-steps 8192 --measure-steps 163840 --num-seeds 16
    ;;
  gail-1seed)
    # one seed, evaluations every 200k steps (fewer Gymnasium evaluations in the timed window)
    step gail-twin-1seed "${GAIL_LIMIT:-300}" python3 experiments/gail.py --backend mjx --num-envs "${GAIL_ENVS:-256}" --ppo.num-steps "${GAIL_T:-32}" \
      --disc.steps-per-round "${GAIL_DISC:-32}" --eval-every 200000 --checkpoint-every 0 --run-dir "$WORK/gail-twin-1seed"
    python3 experiments/time_to_score.py "$WORK/gail-twin-1seed" --start "$(cat "$WORK/gail-twin-1seed.start")" --score 0.9 | tee -a "$OUT/steps.txt"
    pack
    ;;
  gail)
    # GAIL on the twin, 3 vmapped seeds, evaluated in Gymnasium every 100k env steps; time to 0.9 from eval.jsonl.
    step gail-twin "${GAIL_LIMIT:-420}" python3 experiments/gail.py --backend mjx --num-seeds 3 --num-envs "${GAIL_ENVS:-256}" \
      --ppo.num-steps "${GAIL_T:-32}" --disc.steps-per-round "${GAIL_DISC:-32}" --eval-every 100000 --checkpoint-every 0 --run-dir "$WORK/gail-twin"
    python3 experiments/time_to_score.py "$WORK/gail-twin" --start "$(cat "$WORK/gail-twin.start")" --score 0.9 | tee -a "$OUT/steps.txt"
    pack
    ;;
  twin)
    step twin-tests 240 python3 -m pytest -q -x tests/test_mjx_twin.py
    step mjx-speed 240 python3 experiments/mjx_speed.py --num-envs 1024 8192 --env-steps 819200 --gym-steps 0
    ;;
  *) echo "unknown part $part; use throughput, twin-speed, twin-speed-xl, seeds, gail, gail-1seed or twin" >&2; exit 2 ;;
  esac
done
echo "suite done in $(( $(date +%s) - SUITE_START )) s"
