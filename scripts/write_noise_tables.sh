#!/usr/bin/env bash
# Rewrite the committed noise tables (src/wgan_parity/data/noise) after a change to what the
# reference computes: one measuring reference dump per computing stack covered, each forcing
# that stack's BLAS kernel and NumPy SIMD targets on this machine (docs/verdict.md, "The noise
# table"). A dump later trusts a table only after its canary cases re-measure equal, so a stack
# this machine cannot reproduce faithfully is rejected there, never used wrongly.
# Usage: scripts/write_noise_tables.sh [PYTHON]   (a Python with the package, NumPy and autograd;
# default: python3)
set -euo pipefail
cd "$(dirname "$0")/.."
python=${1:-python3}
tables=src/wgan_parity/data/noise
no_avx512="X86_V4 AVX512_ICL AVX512_SPR"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
rm -f "$tables"/noise-*.json.gz
# name | OPENBLAS_CORETYPE | NPY_DISABLE_CPU_FEATURES. NumPy 2.4's OpenBLAS runs Zen as Haswell and
# Cooperlake as SkylakeX, so these three cover AVX2 AMD and Intel, AVX-512 Intel and AMD Zen 4.
while IFS='|' read -r name coretype disabled; do
  echo "== $name"
  OPENBLAS_CORETYPE="$coretype" NPY_DISABLE_CPU_FEATURES="$disabled" "$python" -m wgan_parity \
    dump --backend reference --noise measure --write-noise-table "$tables" \
    --out "$out/$name.npz" --quiet
done <<TABLE
haswell-avx512|Haswell|
haswell-avx2|Haswell|$no_avx512
skylakex-avx512|SkylakeX|
TABLE
ls -l "$tables"
