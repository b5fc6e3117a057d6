#!/usr/bin/env bash
# Perplexity table of issue 3: dense, A4 uniform, A4 OBS (addbit 1 / low_p 0.9,
# addbit 2 / low_p 0.95), unsigned and signed, in quantized and spiking mode,
# for brown-llama-s (16 windows x 256) and stories260K (16 rows x 256).
# Usage: examples/ppl_table.sh [path/to/spikesim] [path/to/shared/models]
set -euo pipefail
bin=${1:-./build/sim/spikesim}
models=${2:-../shared/models}
row() {  # label, model args..., then eval args
  local label=$1; shift
  "$bin" eval "$@" --json | /usr/bin/python3 -c '
import json, sys
j = json.load(sys.stdin)
sp = j.get("spikes_per_token")
print("| {} | {} | {:.4f} | {} | {} |".format(sys.argv[1], j["mode"], j["ppl"],
      "-" if sp is None else "{:.0f}".format(sp),
      "-" if sp is None else "{:.3g} / {:.3g}".format(j["energy_pj_per_token"], j["dense_energy_pj_per_token"])))' "$label"
}
for m in brown stories; do
  if [ $m = brown ]; then
    args=(--model "$models/brown-llama-s" --tokens "$models/brown-llama-s/dev_tokens.i32" --windows 16 --seq 256)
  else
    args=(--model "$models/stories260K/stories260K.bin" --tokens "$models/stories260K/sampled_tokens.i32" --rows --windows 16 --seq 256)
  fi
  echo "### $m"; echo "| setting | mode | ppl | spikes/token | energy pJ/token spiking / dense |"; echo "|---|---|---|---|---|"
  row "dense fp32" "${args[@]}" --mode dense
  for sign in "" --signed; do
    for s in "uniform:--saliency uniform" "A4 addbit1 low_p0.9:--addbit 1 --low-p 0.9" "A4 addbit2 low_p0.95:--addbit 2 --low-p 0.95"; do
      label="${s%%:*}${sign:+ signed}"; [ "${s%%:*}" = uniform ] && label="A4 uniform${sign:+ signed}"
      for mode in quantized spiking; do row "$label" "${args[@]}" --abits 4 ${s#*:} $sign --mode $mode; done
    done
  done
done
