#!/usr/bin/env bash
# Simulate .github/workflows/parity.yml on this machine, job by job, and check that the sharded
# aggregation gives byte for byte what one aggregate over the same dumps gives.
#
#   bench/simulate_fanout.sh [SET...]       # SETs default to `default`; several are joined
#   EXTRA_ENVS="tf-2.20.0 tf-2.19.1" bench/simulate_fanout.sh default switches   # 12+ envs
#
# 1. plan       `wgan-parity matrix --json --set SET` per set (joined), and the shard count
#               `wgan-parity matrix --shard-count` (SHARDS=N overrides it)
# 2. dump       per env, as its own "machine": `nox -s "dump(<id>)" -- --locked --plain` into
#               WORK/machine-<id>/dumps (a dump already there is reused: DUMPS ARE NOT REDONE when
#               WORK is an earlier run's folder), then the stage step: the dump is named
#               <id>@<os>-<arch>-<run>.npz and split with `wgan-parity shard` into the job's upload
#               folder, one file per shard
# 3. aggregate  per shard k, as its own "machine": shard k of every env (what downloading the
#               `dump-s<k>-*` artifacts gives), `wgan-parity aggregate --partial part-<k>.npz`
# 4. merge      every part, `wgan-parity merge --out WORK/fanout-results`
# 5. single     every unsplit dump in one folder, `wgan-parity aggregate --out WORK/single-results`
# 6. check      every file of the two result folders byte for byte; exit 1 if any differs
# Prints the peak disk of every job: what it downloads, writes and installs (the report env and
# the framework env are measured with du; a hosted runner's ~14 GB free is the budget).
#
# LOW_DISK=1 (a set bigger than the free disk twice over, e.g. `releases`: 34 dumps, 33 GB): the
# single aggregate runs first, then each dump is split and its unsplit copies removed, and the
# dump jobs pass `--delete-venvs --prune-cache` (the env's size is then not in its peak).
#
# Needs nox and uv on PATH (e.g. PATH=.ci-venv/bin:$PATH). WORK defaults to a new /tmp folder; it is
# kept for inspection. Run it from a checkout nobody edits meanwhile: envs import this src/.
set -euo pipefail
cd "$(dirname "$0")/.."
SETS=("${@:-default}")
WORK=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/fanout.XXXXXX")}
STAGE_TAG="$(uname -s)-$(uname -m)-local"
mkdir -p "$WORK"
log() { printf '[%(%H:%M:%S)T] simulate_fanout: %s\n' -1 "$*" >&2; }
link() { ln -f "$1" "$2" 2>/dev/null || cp "$1" "$2"; }  # a hard link is a copy that costs no disk
gb() { { du -sbL "$@" 2>/dev/null || true; } | awk '{s += $1} END {printf "%.2f", s / 1e9}'; }  # a missing path counts 0

ids=""
for set in "${SETS[@]}"; do
  matrix=$(PYTHONPATH=src python -m wgan_parity matrix --json --set "$set")
  ids="$ids $(python -c 'import json, sys; print(" ".join(e["env_id"] for e in json.load(sys.stdin)["include"]))' <<<"$matrix")"
done
ids=$(tr ' ' '\n' <<<"$ids ${EXTRA_ENVS:-}" | awk 'NF && !seen[$0]++' | tr '\n' ' ')
count=$(wc -w <<<"$ids")
shards=${SHARDS:-$(PYTHONPATH=src python -c "from wgan_parity.core.shardplan import count_for; print(count_for($count))")}
report_python=$(PYTHONPATH=src python -c 'from wgan_parity.matrix.envtable import load_table; print(load_table().report.python)')
log "plan: sets ${SETS[*]} + [${EXTRA_ENVS:-}]: $count envs, $shards shards; work folder $WORK"

log "report env from locks/_report.txt (python $report_python)"
uv venv --quiet --allow-existing "$WORK/report" --python "$report_python"
uv pip install --quiet --python "$WORK/report/bin/python" --compile-bytecode -r locks/_report.txt
uv pip install --quiet --python "$WORK/report/bin/python" --no-deps -e .
W="$WORK/report/bin/wgan-parity"
report_gb=$(gb "$WORK/report")

declare -A peak
single_rc=""
mkdir -p "$WORK/single"
for id in $ids; do
  machine="$WORK/machine-$id"
  if [ -f "$machine/dumps/$id.npz" ]; then
    log "dump $id: reusing $machine/dumps/$id.npz"
  else
    log "dump $id on its own machine: $machine"
    start=$SECONDS
    low=(); if [ "${LOW_DISK:-0}" = 1 ]; then low=(--delete-venvs --prune-cache --min-free-gb 2); fi
    nox -s "dump($id)" -- --locked --plain --dump-dir "$machine/dumps" "${low[@]}" || log "dump($id) failed (recorded)"
    log "dump $id: $((SECONDS - start)) s"
  fi
  stem="$id@$STAGE_TAG"
  if [ -f "$machine/dumps/$id.npz" ]; then link "$machine/dumps/$id.npz" "$WORK/single/$stem.npz"; fi
  if [ -f "$machine/dumps/$id.status.json" ]; then link "$machine/dumps/$id.status.json" "$WORK/single/$stem.status.json"; fi
done

single_aggregate() {
  local start=$SECONDS
  set +e
  "$W" aggregate "$WORK/single" --out "$WORK/single-results" --quiet >/dev/null
  single_rc=$?
  set -e
  log "single aggregate of every dump: exit $single_rc, $((SECONDS - start)) s"
  peak["single aggregate (for comparison)"]=$(python -c "print(f'{$report_gb + $(gb "$WORK/single") + $(gb "$WORK/single-results"):.2f}')")
}
if [ "${LOW_DISK:-0}" = 1 ]; then single_aggregate; fi

for id in $ids; do
  machine="$WORK/machine-$id"
  stem="$id@$STAGE_TAG"
  rm -rf "$machine/upload" && mkdir -p "$machine/upload"
  for suffix in .status.json .key.json; do
    if [ -f "$machine/dumps/$id$suffix" ]; then link "$machine/dumps/$id$suffix" "$machine/upload/$stem$suffix"; fi
  done
  if [ -f "$machine/dumps/$id.npz" ]; then
    link "$machine/dumps/$id.npz" "$machine/stage-$stem.npz"
    "$W" shard "$machine/stage-$stem.npz" --shards "$shards" --out "$machine/upload" >/dev/null
    for k in $(seq "$shards"); do mv "$machine/upload/stage-$stem.shard-${k}of$shards.npz" "$machine/upload/$stem.shard-${k}of$shards.npz"; done
    rm -f "$machine/stage-$stem.npz"
  fi
  env_gb=$(gb ".wgan-parity/envs/$id")
  peak["dump $id"]=$(python -c "print(f'{$env_gb + $(gb "$machine/dumps/$id.npz") + $(gb "$machine/upload"):.2f}')")
  if [ "${LOW_DISK:-0}" = 1 ]; then rm -f "$machine/dumps/$id.npz" "$WORK/single/$stem.npz"; fi
done

mkdir -p "$WORK/parts"
for k in $(seq "$shards"); do
  job="$WORK/aggregate-$k"
  rm -rf "$job" && mkdir -p "$job/downloaded"
  for id in $ids; do
    for f in "$WORK/machine-$id/upload/"*".shard-${k}of$shards.npz" "$WORK/machine-$id/upload/"*.status.json; do
      if [ -f "$f" ]; then link "$f" "$job/downloaded/$(basename "$f")"; fi
    done
  done
  start=$SECONDS
  "$W" aggregate "$job/downloaded" --partial "$WORK/parts/part-$k.npz" --quiet
  log "aggregate shard $k of $shards: $((SECONDS - start)) s"
  peak["aggregate $k"]=$(python -c "print(f'{$report_gb + $(gb "$job/downloaded") + $(gb "$WORK/parts/part-$k.npz"):.2f}')")
done

start=$SECONDS
set +e
"$W" merge "$WORK/parts" --out "$WORK/fanout-results"
fanout_rc=$?
log "merge: exit $fanout_rc, $((SECONDS - start)) s"
peak["merge"]=$(python -c "print(f'{$report_gb + $(gb "$WORK/parts") + $(gb "$WORK/fanout-results"):.2f}')")
set -e
if [ "${LOW_DISK:-0}" != 1 ]; then single_aggregate; fi

echo "peak disk per job (GB: framework or report env + downloads + outputs):"
for job in "${!peak[@]}"; do printf '  %-40s %8s\n' "$job" "${peak[$job]}"; done | sort -k1,1 -k2n
differ=0
for f in "$WORK/single-results/"*; do
  name=$(basename "$f")
  if cmp -s "$f" "$WORK/fanout-results/$name"; then
    echo "  byte-identical: $name (sha256 $(sha256sum "$f" | cut -c1-16))"
  else
    differ=1
    echo "  DIFFERS: $name"
  fi
done
[ "$fanout_rc" = "$single_rc" ] || { differ=1; log "exit codes differ: fan-out $fanout_rc, single $single_rc"; }
exit "$differ"
