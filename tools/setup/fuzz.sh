#!/usr/bin/env bash
# fuzz.sh: builds the libFuzzer targets (tests/fuzz/fuzz_*.c) with clang + ASan + UBSan in
# build-fuzz/ and runs each one for a bounded time. `make fuzz` runs long, CI a short smoke.
#
#   tools/setup/fuzz.sh [SECONDS]      default 60 per target; BUILD_FUZZ, JOBS override;
#                                      FUZZ_SEED=N fixes libFuzzer's seed (the CI smoke uses 1)
# Seeds come from tests/fuzz/corpus/<name>/ (read only); new inputs go to
# build-fuzz/corpus/<name>/; a dictionary tests/fuzz/<name>.dict is used when present.
# Crash reproducers are written to build-fuzz/artifacts/.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SECONDS_EACH=${1:-60}
B=${BUILD_FUZZ:-$ROOT/build-fuzz}
JOBS=${JOBS:-2}

shopt -s nullglob
srcs=("$ROOT"/tests/fuzz/fuzz_*.c)
if [ "${#srcs[@]}" -eq 0 ]; then
  echo "fuzz: no targets in tests/fuzz/ yet"
  exit 0
fi
names=()
for s in "${srcs[@]}"; do names+=("$(basename "$s" .c)"); done

CC=clang cmake -S "$ROOT" -B "$B" -DCMAKE_BUILD_TYPE=Debug -DVIGIL_FUZZ=ON -DVIGIL_TESTS=OFF \
  -DVIGIL_ASAN=ON -DVIGIL_UBSAN=ON ${CMAKE_FLAGS:-} >/dev/null
echo "fuzz: building ${#names[@]} targets in $B"
if ! cmake --build "$B" -j"$JOBS" --target "${names[@]}" >"$B/build.log" 2>&1; then
  grep -E 'error|Error' "$B/build.log" | head -40 >&2
  echo "fuzz: build failed; full log in $B/build.log" >&2
  exit 1
fi

mkdir -p "$B/artifacts"
fail=0
for n in "${names[@]}"; do
  bin=$(find "$B" -type f -name "$n" -perm -u+x | head -1)
  [ -n "$bin" ] || { echo "fuzz: $n was not built" >&2; fail=1; continue; }
  mkdir -p "$B/corpus/$n"
  args=(-max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
    -artifact_prefix="$B/artifacts/$n-")
  [ -f "$ROOT/tests/fuzz/$n.dict" ] && args+=(-dict="$ROOT/tests/fuzz/$n.dict")
  [ -n "${FUZZ_SEED:-}" ] && args+=(-seed="$FUZZ_SEED") # the CI smoke replays one mutation sequence
  dirs=("$B/corpus/$n")
  [ -d "$ROOT/tests/fuzz/corpus/$n" ] && dirs+=("$ROOT/tests/fuzz/corpus/$n")
  echo "fuzz: $n for ${SECONDS_EACH}s"
  if ! "$bin" "${args[@]}" "${dirs[@]}" >"$B/$n.log" 2>&1; then
    echo "fuzz: $n FAILED; log $B/$n.log, reproducers in $B/artifacts/" >&2
    tail -40 "$B/$n.log" >&2
    fail=1
  else
    grep -E '^stat::number_of_executed_units|^Done ' "$B/$n.log" | sed "s/^/fuzz: $n: /" || true
  fi
done
exit "$fail"
