#!/usr/bin/env bash
# Mesh manager enrolment rate: one manager and NODES node enrolments (CONCURRENCY at a time) in one JVM on
# loopback; prints enrolments (CSRs signed) per second, the latency of one enrolment and the heap after GC.
# See EnrolBench's javadoc.
#   benchmarks/enrol-bench.sh [NODES [CONCURRENCY [sqlite|JDBC-URL]]]   (default 1000 16 sqlite; SKIP_BUILD=1
#   skips Maven; DB_USER and DB_PASSWORD for a database server)
set -euo pipefail
cd "$(dirname "$0")/.."
NODES=${1:-1000}
CONCURRENCY=${2:-16}
STORE=${3:-sqlite}
JAR=benchmarks/target/benchmarks.jar
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  ./mvnw -B -ntp -q -DskipTests -pl benchmarks -am package
fi
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
java -Xmx1g -cp "$JAR" dev.conduit.benchmarks.EnrolBench "$DIR" "$NODES" "$CONCURRENCY" "$STORE" > "$DIR/bench.log" 2>&1 \
  || { echo "enrol-bench: failed:" >&2; grep -v ' INFO ' "$DIR/bench.log" | tail -20 >&2; exit 1; }
grep '^RESULT' "$DIR/bench.log"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
