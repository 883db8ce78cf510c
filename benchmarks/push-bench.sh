#!/usr/bin/env bash
# Push channel fan-out: one PushServer JVM, one JVM of AGENTS lightweight PushClient agents, on loopback.
# Prints the publish-to-installed latency (p50/p99/max over every agent and change), the time until the last
# agent had each change (p50/p99) and the server's heap after GC. See PushFanoutBench's javadoc.
#   benchmarks/push-bench.sh [AGENTS [MEMBERS [CHANGES]]]     (default 10000 1000 20; SKIP_BUILD=1 skips Maven)
set -euo pipefail
cd "$(dirname "$0")/.."
AGENTS=${1:-10000}
MEMBERS=${2:-1000}
CHANGES=${3:-20}
PORT=${PORT:-18443}
JAR=benchmarks/target/benchmarks.jar
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  ./mvnw -B -ntp -q -DskipTests -pl benchmarks -am package
fi
# every agent holds one socket, the server one per agent: raise the descriptor limit as far as allowed
HARD=$(ulimit -Hn)
WANT=$((AGENTS + 2000))
if [[ "$HARD" != unlimited && "$HARD" -lt "$WANT" ]]; then
  echo "push-bench: the hard limit of open files is $HARD; $AGENTS agents need about $WANT" >&2
  exit 1
fi
ulimit -n "$WANT"
DIR=$(mktemp -d)
SERVER_PID=
AGENTS_PID=
cleanup() {
  [[ -n "$AGENTS_PID" ]] && kill "$AGENTS_PID" 2>/dev/null || true
  [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT
java -Xmx1g -cp "$JAR" dev.conduit.benchmarks.PushFanoutBench server "$DIR" "$PORT" "$AGENTS" "$MEMBERS" "$CHANGES" \
  > "$DIR/server.log" 2>&1 &
SERVER_PID=$!
# the simulated agents each keep the whole membership: about 1 GiB per thousand (3 GiB stalled at 4,000)
AGENT_HEAP=${AGENT_HEAP:-$(( AGENTS / 1000 + 3 ))g}
java -Xmx"$AGENT_HEAP" -cp "$JAR" dev.conduit.benchmarks.PushFanoutBench agents "$DIR" "$PORT" "$AGENTS" \
  > "$DIR/agents.log" 2>&1 &
AGENTS_PID=$!
# the server exits when it has measured every change (its own deadlines bound that)
if ! timeout 3600 tail --pid="$SERVER_PID" -f /dev/null; then
  echo "push-bench: timed out" >&2
fi
wait "$SERVER_PID" || { echo "push-bench: the server failed:" >&2; tail -20 "$DIR/server.log" >&2; tail -5 "$DIR/agents.log" >&2; exit 1; }
SERVER_PID=
grep -E "^(server|RESULT)" "$DIR/server.log"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
