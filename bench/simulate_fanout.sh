#!/usr/bin/env bash
# Simulate .github/workflows/parity.yml on this machine and check it against `nox -s compare`.
#
#   bench/simulate_fanout.sh [SET]          # SET defaults to `default`
#
# 1. plan       the plan job's command: `wgan-parity matrix --json --set SET`
# 2. dump       per env, as its own "machine": `nox -s "dump(<id>)" -- --locked --plain` into its
#               own folder WORK/machine-<id>/dumps, then staged as <id>@<os>-<arch>-<run>.<suffix>
# 3. merge      every staged file copied into one folder (what merge-multiple does)
# 4. aggregate  the report env from locks/_report.txt, `wgan-parity aggregate WORK/merged`
# 5. compare    `nox -s compare -- --set SET` into WORK/compare-results, its dump folder seeded
#               with the machines' dumps and cache keys (nothing is re-dumped when the source
#               did not change meanwhile); STRICT=1 seeds nothing, so compare makes its own dumps
#               and the check also covers run-to-run determinism (twice the time)
# 6. check      pairs.csv (and matrix_cosine.csv) byte for byte; exit 1 if they differ
#
# Needs nox and uv on PATH (e.g. PATH=.venv/bin:$PATH). WORK defaults to a new /tmp folder and
# holds the dumps (about 3.7 GB for `default`); it is kept for inspection. Run it from a checkout
# that nobody edits meanwhile: every env imports this checkout's src/ (editable install).
set -euo pipefail
cd "$(dirname "$0")/.."
SET=${1:-default}
WORK=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/fanout.XXXXXX")}
STAGE_TAG="$(uname -s)-$(uname -m)-local"
mkdir -p "$WORK"
log() { printf '[%(%H:%M:%S)T] simulate_fanout: %s\n' -1 "$*" >&2; }
link() { ln "$1" "$2" 2>/dev/null || cp "$1" "$2"; }  # a hard link is a copy that costs no disk

log "plan: set $SET; work folder $WORK"
matrix=$(PYTHONPATH=src python -m wgan_parity matrix --json --set "$SET")
ids=$(python -c 'import json, sys; print(" ".join(e["env_id"] for e in json.load(sys.stdin)["include"]))' <<<"$matrix")
report_python=$(PYTHONPATH=src python -c 'from wgan_parity.matrix.envtable import load_table; print(load_table().report.python)')

mkdir -p "$WORK/merged"
for id in $ids; do
  machine="$WORK/machine-$id"
  log "dump $id on its own machine: $machine"
  start=$SECONDS
  nox -s "dump($id)" -- --locked --plain --dump-dir "$machine/dumps" || log "dump($id) failed (recorded)"
  log "dump $id: $((SECONDS - start)) s"
  mkdir -p "$machine/fanout"
  for suffix in .npz .status.json .key.json .log; do
    if [ -f "$machine/dumps/$id$suffix" ]; then
      link "$machine/dumps/$id$suffix" "$machine/fanout/$id@$STAGE_TAG$suffix"
    fi
  done
  for f in "$machine"/fanout/*; do link "$f" "$WORK/merged/$(basename "$f")"; done
done

log "report env from locks/_report.txt (python $report_python)"
uv venv --quiet --allow-existing "$WORK/report" --python "$report_python"
uv pip install --quiet --python "$WORK/report/bin/python" --compile-bytecode -r locks/_report.txt
uv pip install --quiet --python "$WORK/report/bin/python" --no-deps -e .

log "aggregate the merged folder"
start=$SECONDS
set +e
"$WORK/report/bin/wgan-parity" aggregate "$WORK/merged" --out "$WORK/fanout-results" --quiet
fanout_rc=$?
set -e
log "fan-out aggregate: exit $fanout_rc, $((SECONDS - start)) s"

mkdir -p "$WORK/compare-dumps"
if [ "${STRICT:-0}" != 1 ]; then
  for id in $ids; do
    for suffix in .npz .key.json .status.json; do
      f="$WORK/machine-$id/dumps/$id$suffix"
      if [ -f "$f" ]; then link "$f" "$WORK/compare-dumps/$id$suffix"; fi
    done
  done
fi
log "nox -s compare -- --set $SET (STRICT=${STRICT:-0})"
start=$SECONDS
set +e
nox -s compare -- --set "$SET" --locked --plain --dump-dir "$WORK/compare-dumps" \
  --out "$WORK/compare-results"
compare_rc=$?
set -e
log "nox -s compare: exit $compare_rc, $((SECONDS - start)) s"

same=0
for table in pairs.csv matrix_cosine.csv; do
  if cmp "$WORK/fanout-results/$table" "$WORK/compare-results/$table"; then
    log "$table: byte-identical ($(wc -l <"$WORK/fanout-results/$table") lines," \
        "sha256 $(sha256sum "$WORK/fanout-results/$table" | cut -c1-16))"
  else
    same=1
    log "$table: DIFFERS between the fan-out and nox -s compare"
  fi
done
[ "$fanout_rc" = "$compare_rc" ] || log "exit codes differ: fan-out $fanout_rc, compare $compare_rc"
exit "$same"
