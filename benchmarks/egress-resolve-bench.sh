#!/usr/bin/env bash
# The egress server's resolution against a local dnsmasq: add latency of N domain entries and the time of a
# re-resolution round of all of them. See EgressResolveBench's javadoc.
#   benchmarks/egress-resolve-bench.sh [N [ROUNDS]]     (default 1000 5; SKIP_BUILD=1 skips Maven)
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  ./mvnw -B -ntp -q -DskipTests -pl benchmarks -am package
fi
exec java -cp benchmarks/target/benchmarks.jar dev.conduit.benchmarks.EgressResolveBench "${1:-1000}" "${2:-5}"
