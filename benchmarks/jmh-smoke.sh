#!/usr/bin/env bash
# Runs every JMH benchmark once, briefly (1 fork, 1 warmup + 1 measurement iteration of 200 ms), so
# that none of them can rot: any benchmark error fails the script (-foe true). Not for numbers.
# Builds the jar unless SKIP_BUILD=1. Takes about 1-2 minutes on 2 cores.
# The full run is: java -jar benchmarks/target/benchmarks.jar -rf json -rff benchmarks/jmh-result.json
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  ./mvnw -q -DskipTests -pl benchmarks -am package
fi
jar=benchmarks/target/benchmarks.jar
[[ -f $jar ]] || { echo "jmh-smoke: $jar missing (build failed?)" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# -foe: fail on error; the hard timeout bounds a hung benchmark
timeout 300 java -jar "$jar" -f 1 -wi 1 -i 1 -w 200ms -r 200ms -foe true \
  -rf json -rff "$out/smoke.json" "$@" | tee "$out/smoke.log" | grep -E '^(Benchmark|[A-Z][A-Za-z0-9]+Benchmark\.)|ERROR|Exception' || true
rc=${PIPESTATUS[0]}
if [[ $rc -ne 0 ]]; then
  echo "jmh-smoke: FAILED (exit $rc); last lines:" >&2
  tail -40 "$out/smoke.log" >&2
  exit 1
fi
# every benchmark method must have produced a result
expected=$(java -jar "$jar" -l "$@" | grep -c '^dev\.conduit\.' || true)
got=$(python3 -c 'import json,sys; print(len({r["benchmark"] for r in json.load(open(sys.argv[1]))}))' "$out/smoke.json")
if [[ $got -lt $expected ]]; then
  echo "jmh-smoke: FAILED: $got of $expected benchmarks produced a result" >&2
  exit 1
fi
echo "jmh-smoke: OK ($got benchmarks)"
