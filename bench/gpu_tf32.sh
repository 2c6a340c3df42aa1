#!/usr/bin/env bash
# TF32 on an NVIDIA GPU, measured: the whole catalog on torch/CUDA with TF32 off and on (and on
# the same torch's CPU path), each against the float64 reference, aggregated into one results
# folder. Prints the per-tensor errors against the truth as a table at the end.
#
#   bash bench/gpu_tf32.sh                       # on a machine with a CUDA build of torch
#   CASES='conv2d.* residual_*' bash bench/gpu_tf32.sh   # a part of the catalog
#
# Needs: python3 with torch (CUDA), numpy, pandas, threadpoolctl, autograd, matplotlib, and this
# checkout (it runs from src/ without installing). OUT (default results/gpu-tf32) receives
# summary.md, envs.csv, pairs.csv.gz, tf32.csv, two heatmaps and run.log; WORK holds the dumps.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-results/gpu-tf32}
WORK=${WORK:-/tmp/wgan-parity-gpu}
PY=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}
read -r -a CASE_ARGS <<<"${CASES:-}"
mkdir -p "$OUT" "$WORK"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
exec > >(tee "$OUT/run.log") 2>&1

version=$("$PY" -c 'import torch; print(torch.__version__.split("+")[0])') || exit 3
echo "torch $version on $DEVICE; $(nproc) CPUs"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
dump() {  # label, then dump options
    local label=$1; shift
    local t0=$SECONDS
    "$PY" -m wgan_parity dump --out "$WORK/$label.npz" --env-id "$label" --quiet \
        ${CASE_ARGS[@]:+--cases "${CASE_ARGS[@]}"} "$@"
    echo "$label: exit $? in $((SECONDS - t0)) s"
}
rm -f "$WORK"/*.npz
dump reference --backend reference &  # float64 NumPy on the CPU cores, while the GPU works
ref=$!
dump "torch-$version-$DEVICE" --backend torch --device "$DEVICE"
dump "torch-$version-$DEVICE-tf32" --backend torch --device "$DEVICE" --tf32
dump "torch-$version-cpu" --backend torch --device cpu
wait "$ref"

"$PY" -m wgan_parity aggregate "$WORK" --out "$WORK/res" --quiet
echo "aggregate: exit $?"
gzip -9 -c "$WORK/res/pairs.csv" >"$OUT/pairs.csv.gz"
for f in summary.md envs.csv heatmap_vs_reference.png heatmap_pairs_gradient.png; do
    [ -f "$WORK/res/$f" ] && cp "$WORK/res/$f" "$OUT/"
done
"$PY" - "$WORK/res/pairs.csv" "$OUT/tf32.csv" <<'EOF'
import sys

import pandas as pd

df = pd.read_csv(sys.argv[1])
vs = df[df["env_b"] == "reference"].pivot_table(
    index=["case", "tensor"], columns="env_a", values="err_a", aggfunc="first"
)
vs.to_csv(sys.argv[2], float_format="%.3e")
pd.set_option("display.width", 200)
tf32 = [c for c in vs.columns if c.endswith("tf32")]
if tf32:
    print(vs.sort_values(tf32[0], ascending=False).head(25).to_string(float_format="%.2e"))
    print(vs.describe().loc[["50%", "max"]].to_string(float_format="%.2e"))
status = df[df["env_b"] == "reference"].groupby(["env_a", "status"]).size()
print(status.to_string())
EOF
