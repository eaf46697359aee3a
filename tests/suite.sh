#!/usr/bin/env bash
# The whole suite, as `make test` runs it once everything is installed (docs/testing.md):
#
#   the network lab, one test at a time, in the background (its log is printed when it ends)
#   beside   lint, types, then unit and integration tests on two workers;
#   then     the whole-machine tests (marker serial), alone;
#   last     the 15 slowest tests of every part and one closing count line.
#
# The lab's verdicts hold against what the lab did to the packets, so other work beside it
# cannot decide them; the serial tests' CPU figures need the cores to themselves. Every part
# runs even when one fails; the exit status is 1 if any failed (or none ran).
set -uo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
OUT="${WPL_SUITE_DIR:-.suite}"
rm -rf "$OUT" && mkdir -p "$OUT"
rc=0
lab=""
trap '[ -n "$lab" ] && kill "$lab" 2>/dev/null' EXIT

echo "== network lab: started in the background, one test at a time (log: $OUT/lab.log)"
# At nice -10 (root): the lab's probes, servers and reference tools, which time in user space
# outside what the delayer holds, get the CPU before the work beside them (the delayer itself
# runs real-time), so that work cannot decide their verdicts either.
WPL_DURATIONS="$OUT/lab.jsonl" nice -n -10 "$VENV/bin/pytest" -q -p no:xdist -m lab \
    >"$OUT/lab.log" 2>&1 &
lab=$!

echo "== lint and types"
"$VENV/bin/ruff" check . || rc=1
"$VENV/bin/ruff" format --check . || rc=1
"$VENV/bin/mypy" || rc=1

echo "== unit and integration tests, two workers"
WPL_DURATIONS="$OUT/parallel.jsonl" "$VENV/bin/pytest" -q -n 2 -m "not lab and not serial" || rc=1

echo "== network lab: waiting for it to end"
wait "$lab" || rc=1
lab=""
cat "$OUT/lab.log"

echo "== whole-machine tests, alone"
WPL_DURATIONS="$OUT/serial.jsonl" "$VENV/bin/pytest" -q -p no:xdist -m serial || rc=1

"$VENV/bin/python" -m tests.support.durations --slowest 15 "$OUT"/*.jsonl || rc=1
exit "$rc"
