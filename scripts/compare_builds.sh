#!/usr/bin/env bash
# Proves a change leaves results as they were: runs two spikesim binaries on
# the settings of examples/ppl_table.sh (brown-llama-s 16 windows x 256 and
# stories260K 16 rows, dense and A4 in quantized and spiking mode), on the
# default run and its report, on a quantized default run and on the linear
# stack, and compares every JSON output byte for byte (wall times and paths
# and the config text removed; so are the measured simulate_s and RSS) and the HDF5 attributes of the default run
# (a change that adds attributes shows them as differences).
#
# Usage: scripts/compare_builds.sh OLD_SPIKESIM NEW_SPIKESIM [path/to/shared/models]
# Exit 0 when everything is identical; otherwise lists what differs, exit 1.
# Takes about a minute per binary.
set -uo pipefail
old=$1; new=$2; models=${3:-$(dirname "$0")/../../shared/models}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

strip() {  # JSON on stdin, without wall times and output paths, keys sorted
  /usr/bin/python3 -c '
import json, sys
def s(o):
    if isinstance(o, dict): return {k: s(v) for k, v in o.items() if "wall" not in k and "rss" not in k and k not in ("output", "file", "config_toml", "simulate_s")}
    if isinstance(o, list): return [s(v) for v in o]
    return o
print(json.dumps(s(json.load(sys.stdin)), indent=1, sort_keys=True))'
}

snapshot() {  # binary, output folder
  local bin=$1 out=$2 i=0
  mkdir -p "$out"
  for m in brown stories; do
    if [ $m = brown ]; then
      args=(--model "$models/brown-llama-s" --tokens "$models/brown-llama-s/dev_tokens.i32" --windows 16 --seq 256)
    else
      args=(--model "$models/stories260K/stories260K.bin" --tokens "$models/stories260K/sampled_tokens.i32" --rows --windows 16 --seq 256)
    fi
    "$bin" eval "${args[@]}" --mode dense --json 2>/dev/null | strip > "$out/$m.dense.json"
    for sign in "" --signed; do
      for s in "--saliency uniform" "--addbit 1 --low-p 0.9" "--addbit 2 --low-p 0.95"; do
        for mode in quantized spiking; do
          i=$((i + 1))
          # shellcheck disable=SC2086
          "$bin" eval "${args[@]}" --abits 4 $s $sign --mode $mode --json 2>/dev/null | strip > "$out/$m.$i.$mode.json"
        done
      done
    done
  done
  # The built-in defaults (what examples/default.toml spells out), written so
  # that both binaries can read it whatever keys either adds.
  printf '[run]\ntokens = 16\n' > "$work/defaults.toml"
  (cd "$root" &&
    "$bin" run "$work/defaults.toml" -o "$out/default.h5" --json 2>/dev/null | strip > "$out/default.json" &&
    "$bin" report "$out/default.h5" --json 2>/dev/null | strip > "$out/report.json" &&
    "$bin" run "$work/defaults.toml" --set run.mode=quantized -o "$out/quantized.h5" --json 2>/dev/null | strip > "$out/quantized.json" &&
    "$bin" run examples/linear_stack.toml -o "$out/stack.h5" --json 2>/dev/null | strip > "$out/stack.json")
  h5dump -A "$out/default.h5" 2>/dev/null | grep -v -e '^HDF5 "' -e wall > "$out/default_attributes.txt"
}

snapshot "$old" "$work/old"
snapshot "$new" "$work/new"
status=0
for f in "$work"/old/*.json "$work"/old/default_attributes.txt; do
  b=$(basename "$f")
  if ! cmp -s "$f" "$work/new/$b"; then
    echo "differs: $b"; diff "$f" "$work/new/$b" | head -20; status=1
  fi
done
n=$(ls "$work"/old/*.json | wc -l)
[ $status = 0 ] && echo "compare_builds: $n JSON outputs and the default run's HDF5 attributes are identical"
exit $status
