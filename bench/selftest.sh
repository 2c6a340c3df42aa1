#!/usr/bin/env bash
# The verdict's power, measured: `wgan-parity selftest` plants every bug of
# src/wgan_parity/bugs/ (one user backend each), dumps it on the cases it touches next to the
# clean frameworks and the float64 reference, aggregates, and prints the table: per bug and
# weight mode, detected / forward-only / blamed / localized, and the clean envs' false alarms.
#
#   bash bench/selftest.sh                          # the default set's envs of `nox -s compare`
#   ENVS=/other/.wgan-parity/envs DUMPS=/other/dumps bash bench/selftest.sh --bugs relu_leaky
#
# ENVS (default .wgan-parity/envs) holds the venvs `nox -s compare` built: _report (pandas),
# reference, TORCH_ENV (torch-2.13.0) and TF_ENV (tf-2.21.0). DUMPS (default dumps/): full
# catalog dumps there (reference.npz, tf-*.npz, torch-*.npz) are reused, their cases copied out.
# OUT (default results/selftest) receives selftest.csv, selftest.md, results/ and dumps/.
# Extra arguments go to `wgan-parity selftest`. Measured on 2 cores: about 3 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
ENVS=${ENVS:-.wgan-parity/envs}
DUMPS=${DUMPS:-dumps}
OUT=${OUT:-results/selftest}
reuse=()
[ -f "$DUMPS/reference.npz" ] && reuse=(--dumps "$DUMPS")
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
start=$SECONDS
status=0
"$ENVS/_report/bin/python" -m wgan_parity selftest --out "$OUT" \
    --torch-python "$ENVS/${TORCH_ENV:-torch-2.13.0}/bin/python" \
    --tf-python "$ENVS/${TF_ENV:-tf-2.21.0}/bin/python" \
    --reference-python "$ENVS/reference/bin/python" \
    ${reuse[@]:+"${reuse[@]}"} "$@" || status=$?
echo "bench/selftest.sh: exit $status in $((SECONDS - start)) s on $(nproc) CPUs"
exit "$status"
