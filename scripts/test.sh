#!/usr/bin/env bash
# Builds spikesim and runs every check; `.ci/run` runs exactly this script.
#
# Stages, in order, each ending with one summary line; the first stage that
# fails stops the script, names itself, and the script exits non-zero:
#   deps     scripts/install-deps.sh --mpi
#   release  Release build in build/ with -DSPIKESIM_WITH_MPI=ON (alone it runs as
#            the default build does; under mpirun the [mpi] tests run 1, 2 and 4
#            ranks); ctest, all tiers (unit, integration, validation)
#   asan     build-asan/: clang, AddressSanitizer + UndefinedBehaviorSanitizer, -O1 with
#            assertions, -fno-sanitize-recover=all, libFuzzer's coverage hooks;
#            the unit and integration tiers
#            (the sanitizer trees are default builds: no MPI)
#   tsan     build-tsan/: gcc, ThreadSanitizer; the tests tagged [threads]
#            (parallel delivery, spikesim_threads_tests), suppressions in
#            tests/sanitizers/tsan.supp
#   fuzz     build-asan/ again: each harness of fuzz/ (libFuzzer) runs
#            SPIKESIM_FUZZ_SECONDS from its seeds in fuzz/corpus/ (docs/fuzzing.md)
# One tree serves ASan and the fuzzers: the libraries are compiled once with
# both, which keeps the whole run inside CI's 30 minutes on 2 cores.
# A sanitizer report, a failed test, or a fuzzer crash, leak, timeout or
# out-of-memory fails its stage.
#
# 27 minutes on 2 cores from a clean clone (2026-12-06, with the MPI tests:
# release 9:38, asan 11:07, tsan 4:13, fuzz 1:48); rebuilds are incremental.
#
# Usage: scripts/test.sh [STAGE ...]   (no stage named: all of them, in order)
#
# Environment:
#   SPIKESIM_QUICK=1          deps and release only, for local use (refused when CI is set)
#   SPIKESIM_FUZZ_SECONDS=N   seconds per fuzzer (default 30)
#   SPIKESIM_JOBS=N           build, test and fuzz parallelism (default: nproc)
#   SPIKESIM_BUILD_PREFIX=P   build trees P, P-asan, P-tsan (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

jobs=${SPIKESIM_JOBS:-$(nproc)}
fuzz_seconds=${SPIKESIM_FUZZ_SECONDS:-30}
prefix=${SPIKESIM_BUILD_PREFIX:-build}
quick=${SPIKESIM_QUICK:-0}
fuzzers=(fuzz_safetensors fuzz_llama2c fuzz_hf_config fuzz_toml_config fuzz_tokenizer_json fuzz_gguf)

if [ "$quick" = 1 ] && [ -n "${CI:-}" ] && [ "${CI}" != false ]; then
  echo "test.sh: SPIKESIM_QUICK=1 skips the sanitizer and fuzz stages; it is for local use, not CI" >&2
  exit 2
fi

summaries=$(mktemp -d)
trap 'rm -rf "$summaries"' EXIT

# Sanitizer runtimes of gcc 12 / clang 14 fail on kernels with more than 28
# bits of mmap randomization; run them without ASLR there.
san_run=()
if [ -r /proc/sys/vm/mmap_rnd_bits ] && [ "$(cat /proc/sys/vm/mmap_rnd_bits)" -gt 28 ]; then
  san_run=(setarch "$(uname -m)" -R)
fi

export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:check_initialization_order=1:strict_init_order=1:print_summary=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:print_summary=1"
# history_size=7: the suppressions of TBB's bookkeeping need both stacks.
export TSAN_OPTIONS="halt_on_error=1:history_size=7:second_deadlock_stack=1:suppressions=$root/tests/sanitizers/tsan.supp"

# File and line in sanitizer reports (llvm-14 from install-deps.sh).
use_symbolizer() {
  if ! command -v llvm-symbolizer >/dev/null && [ -x /usr/lib/llvm-14/bin/llvm-symbolizer ]; then
    export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
  fi
}

# "out of N" from ctest's last line.
ctest_count() { grep -Eo 'tests failed out of [0-9]+' "$1" | grep -Eo '[0-9]+$' || echo '?'; }

# Assertions stay on (no -DNDEBUG) in the sanitizer and fuzz trees; -g1 (line
# tables) gives file:line in reports and builds faster than -g.
debug_flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1")

stage_deps() {
  ./scripts/install-deps.sh --mpi
  echo "packages installed" >"$summaries/deps"
}

stage_release() {
  cmake -S . -B "$prefix" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSPIKESIM_WITH_MPI=ON
  cmake --build "$prefix" -j"$jobs"
  ctest --test-dir "$prefix" --output-on-failure -j"$jobs" | tee "$summaries/release.log"
  echo "$(ctest_count "$summaries/release.log") tests passed (all tiers)" >"$summaries/release"
}

stage_asan() {
  use_symbolizer
  cmake -S . -B "$prefix-asan" -G Ninja "${debug_flags[@]}" -DCMAKE_C_COMPILER=clang \
    -DCMAKE_CXX_COMPILER=clang++ -DSPIKESIM_SANITIZE="address;undefined" -DSPIKESIM_BUILD_FUZZERS=ON \
    -DSPIKESIM_BUILD_BENCHMARKS=OFF
  cmake --build "$prefix-asan" -j"$jobs" --target spikesim_unit_tests spikesim_integration_tests
  "${san_run[@]}" ctest --test-dir "$prefix-asan" -L '^(unit|integration)$' --output-on-failure -j"$jobs" \
    | tee "$summaries/asan.log"
  echo "$(ctest_count "$summaries/asan.log") unit and integration tests passed, no ASan/UBSan report" \
    >"$summaries/asan"
}

stage_tsan() {
  use_symbolizer
  cmake -S . -B "$prefix-tsan" -G Ninja "${debug_flags[@]}" -DSPIKESIM_SANITIZE=thread \
    -DSPIKESIM_BUILD_BENCHMARKS=OFF
  cmake --build "$prefix-tsan" -j"$jobs" --target spikesim_threads_tests
  # --warn NoTests: a tag that matches nothing fails instead of passing.
  "${san_run[@]}" "$prefix-tsan/tests/spikesim_threads_tests" "[threads]" --warn NoTests \
    | tee "$summaries/tsan.log"
  local total
  total=$(grep -Eo 'All tests passed \([0-9]+ assertions? in [0-9]+' "$summaries/tsan.log" | grep -Eo '[0-9]+$' || echo 0)
  echo "$total [threads] tests passed, no TSan report" >"$summaries/tsan"
}

# Runs one harness; writes its log, exit status and "<executions> <seconds>".
run_fuzzer() {
  local h=$1 out=$2 dict=()
  case $h in
    fuzz_safetensors | fuzz_hf_config | fuzz_tokenizer_json) dict=(-dict="$root/fuzz/dict/json.dict") ;;
    fuzz_toml_config) dict=(-dict="$root/fuzz/dict/toml.dict") ;;
  esac
  # New inputs go to a scratch folder; the checked-in seeds are only read.
  rm -rf "$out/$h.work" && mkdir -p "$out/$h.work" "$out/artifacts"
  local start=$SECONDS rc=0
  # -timeout: one input running 25 s is a hang; `timeout` guards the whole run.
  timeout $((fuzz_seconds + 300)) "${san_run[@]}" "$prefix-asan/fuzz/$h" -max_total_time="$fuzz_seconds" \
    -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/artifacts/$h-" \
    "${dict[@]}" "$out/$h.work" "fuzz/corpus/$h" >"$out/$h.log" 2>&1 || rc=$?
  local runs
  runs=$(grep -Eo 'stat::number_of_executed_units: [0-9]+' "$out/$h.log" | grep -Eo '[0-9]+$' ||
    grep -Eo '^Done [0-9]+ runs' "$out/$h.log" | grep -Eo '[0-9]+' || echo '?')
  echo "$rc" >"$out/$h.rc"
  echo "$runs $((SECONDS - start))" >"$out/$h.stats"
}

stage_fuzz() {
  use_symbolizer
  # The asan stage configured and built this tree's libraries.
  cmake --build "$prefix-asan" -j"$jobs" --target fuzzers
  local out="$root/$prefix-asan/fuzz-run" h running=0 failed=() line=()
  rm -rf "$out" && mkdir -p "$out"
  echo "fuzz: ${#fuzzers[@]} harnesses, ${fuzz_seconds}s each, $jobs at a time; logs in $out"
  for h in "${fuzzers[@]}"; do
    run_fuzzer "$h" "$out" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
      wait -n || true
      running=$((running - 1))
    fi
  done
  wait || true
  for h in "${fuzzers[@]}"; do
    local rc runs secs
    rc=$(cat "$out/$h.rc" 2>/dev/null || echo '?')
    read -r runs secs <"$out/$h.stats" || { runs='?'; secs='?'; }
    echo "fuzz: $h: $runs executions in ${secs}s, exit $rc"
    line+=("${h#fuzz_} $runs")
    if [ "$rc" != 0 ]; then
      failed+=("$h")
      echo "---- $h failed; the end of $out/$h.log:"
      tail -n 40 "$out/$h.log"
      local artifact
      for artifact in "$out/artifacts/$h-"*; do
        [ -e "$artifact" ] && echo "---- reproduce: $prefix-asan/fuzz/$h $artifact   (docs/fuzzing.md)"
      done
    fi
  done
  local joined
  joined=$(printf '%s, ' "${line[@]}")
  echo "executions per harness in ${fuzz_seconds}s: ${joined%, }" >"$summaries/fuzz"
  if [ "${#failed[@]}" -ne 0 ]; then
    echo "fuzz: crashing harnesses: ${failed[*]}" >&2
    return 1
  fi
}

# Sets `cpu` to the CPU seconds (user + system) of this shell's finished
# children. `times` must run in this shell: a $( ) subshell has no children.
cpu_now() {
  times >"$summaries/times"
  cpu=$(awk 'END { t = 0; for (i = 1; i <= 2; i++) { split($i, p, /[ms]/); t += p[1] * 60 + p[2] }
                   printf "%d", t }' "$summaries/times")
}

# Runs stage $1 in a subshell and prints its line. Not `( ... ) || rc=$?`:
# bash ignores `set -e` inside anything whose status is tested.
results=()
run_stage() {
  local name=$1 start=$SECONDS cpu cpu_start rc
  cpu_now
  cpu_start=$cpu
  echo "==> test.sh: stage $name"
  set +e
  (
    set -euo pipefail
    "stage_$name"
  )
  rc=$?
  set -e
  local took=$((SECONDS - start))
  cpu_now
  cpu=$((cpu - cpu_start))
  local what
  what=$(cat "$summaries/$name" 2>/dev/null || true)
  local line
  line=$(printf '%-8s %s in %dm%02ds (cpu %dm%02ds)' "$name" "$([ "$rc" = 0 ] && echo passed || echo FAILED)" \
    $((took / 60)) $((took % 60)) $((cpu / 60)) $((cpu % 60)))
  [ -n "$what" ] && line="$line: $what"
  results+=("$line")
  echo "==> test.sh: $line"
  if [ "$rc" != 0 ]; then
    echo
    echo "test.sh: stage '$name' FAILED (exit $rc); stages run:"
    printf '  %s\n' "${results[@]}"
    exit 1
  fi
}

if [ $# -gt 0 ]; then
  # Named stages only, in the order given (a rerun after a fix; the fuzz stage
  # needs the asan stage's tree).
  for name in "$@"; do
    case $name in
      deps | release | asan | tsan | fuzz) run_stage "$name" ;;
      *) echo "test.sh: no stage '$name' (stages: deps release asan tsan fuzz)" >&2; exit 2 ;;
    esac
  done
else
  run_stage deps
  run_stage release
  if [ "$quick" = 1 ]; then
    echo "==> test.sh: SPIKESIM_QUICK=1: asan, tsan and fuzz stages skipped"
  else
    run_stage asan
    run_stage tsan
    run_stage fuzz
  fi
fi
echo
echo "test.sh: all stages passed in $((SECONDS / 60))m$(printf '%02d' $((SECONDS % 60)))s"
printf '  %s\n' "${results[@]}"
