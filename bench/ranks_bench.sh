#!/usr/bin/env bash
# Tokens/s of `spikesim run` on 1 and 2 MPI ranks (docs/concepts/ranks.md):
# a generated 4-layer model (d 512, d_ff 1536, 8 heads / 4 KV heads, vocab
# 2048), 64 tokens in spiking mode, nothing recorded. Each line gives the
# token loop's rate (the spiking run and its dense reference), every rank's
# peak RSS (reached while it loads the whole model) and RSS at the end (its
# share held), and the bytes the ranks exchanged; the last lines give ratios
# measured in this run. On a 2-core machine 2 ranks x 1 thread is compared
# with 1 rank x 1 thread and 1 rank x 2 threads: a functional scaling check,
# not a cluster figure.
#
# Usage: bench/ranks_bench.sh [BUILD_DIR] [REPS]
#   BUILD_DIR  a -DSPIKESIM_WITH_MPI=ON build (default: build/)
#   REPS       runs per setting, the best kept (default 3)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/build}/sim/spikesim
reps=${2:-3}
[ -x "$bin" ] || { echo "ranks_bench: no $bin (build with -DSPIKESIM_WITH_MPI=ON)" >&2; exit 2; }
mpirun=(mpirun --oversubscribe --bind-to none)
[ "$(id -u)" -eq 0 ] && mpirun+=(--allow-run-as-root)
settings=(--set generated.layers=4 --set generated.dim=512 --set generated.hidden_dim=1536
  --set generated.heads=8 --set generated.kv_heads=4 --set generated.vocab=2048
  --set run.tokens=64 --set record.enabled=false --set run.progress=false)
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

# label ranks threads: the best of $reps runs; its line on stdout, its rate in $work/<label>.
measure() {
  local i
  for ((i = 0; i < reps; i++)); do
    "${mpirun[@]}" -np "$2" "$bin" run "$root/examples/default.toml" "${settings[@]}" --set run.threads="$3" \
      --json 2>/dev/null >"$work/run$i.json"
  done
  /usr/bin/python3 - "$1" "$work" "$reps" <<'PY'
import json, sys
label, work, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
runs = [json.load(open(f"{work}/run{i}.json")) for i in range(reps)]
s = max(runs, key=lambda r: r["tokens"] / r["simulate_s"])
rate = s["tokens"] / s["simulate_s"]
rss = ", ".join("%.0f" % (b / 2**20) for b in s["peak_rss_bytes"])
held = ", ".join("%.0f" % (b / 2**20) for b in s["rss_bytes"])
comm = s.get("communication", {}).get("total", {})
print("  %-20s %7.2f tok/s   RSS per rank: peak %s MiB, at the end %s MiB   exchanged %.2f MiB (%d spikes, %d values)"
      % (label, rate, rss, held, comm.get("bytes", 0) / 2**20, comm.get("spikes", 0), comm.get("values", 0)))
open(f"{work}/{label.replace(' ', '_')}", "w").write(str(rate))
PY
}

echo "ranks_bench: $(nproc) cores, best of $reps, $bin"
measure "1 rank x 1 thread" 1 1
measure "1 rank x 2 threads" 1 2
measure "2 ranks x 1 thread" 2 1
r11=$(cat "$work/1_rank_x_1_thread"); r12=$(cat "$work/1_rank_x_2_threads"); r21=$(cat "$work/2_ranks_x_1_thread")
/usr/bin/python3 -c "
import sys
r11, r12, r21 = map(float, sys.argv[1:])
print('  ratio 2 ranks / 1 rank (1 thread each):  %.2f' % (r21 / r11))
print('  ratio 2 ranks x 1 thread / 1 rank x 2 threads:  %.2f' % (r21 / r12))" "$r11" "$r12" "$r21"
