#!/usr/bin/env bash
# Push channel fan-out: one PushServer JVM, one JVM of AGENTS agents, on loopback. Prints the publish-to-decoded
# latency (p50/p99/max over every agent and change), the time until the last agent had each change (p50/p99), the
# server's heap after GC and CPU per change, and the load average. See PushFanoutBench's javadoc.
#   benchmarks/push-bench.sh [AGENTS [MEMBERS [CHANGES]]]     (default 10000 1000 20; SKIP_BUILD=1 skips Maven)
# AGENT_MODE=watchers (default): cheap agents (PushWatchers), so the server's work is measured;
# AGENT_MODE=agents: full PushClient agents, each keeping and hashing the membership (publish-to-installed).
# SERVER_OPTS / AGENT_OPTS: more JVM options, e.g. SERVER_OPTS="-XX:StartFlightRecording=filename=/tmp/push.jfr" to
# profile the server with JFR.
# PIN=1 pins the server to CPU 0 and the agents to CPU 1 (taskset), so neither takes the other's core.
set -euo pipefail
cd "$(dirname "$0")/.."
AGENTS=${1:-10000}
MEMBERS=${2:-1000}
CHANGES=${3:-20}
PORT=${PORT:-18443}
JAR=${JAR:-benchmarks/target/benchmarks.jar}
AGENT_MODE=${AGENT_MODE:-watchers}
SERVER_CPU=()
AGENTS_CPU=()
if [[ "${PIN:-0}" == 1 ]]; then
  SERVER_CPU=(taskset -c 0)
  AGENTS_CPU=(taskset -c 1)
fi
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
# shellcheck disable=SC2086
"${SERVER_CPU[@]}" java -Xmx1g ${SERVER_OPTS:-} -cp "$JAR" dev.conduit.benchmarks.PushFanoutBench server "$DIR" "$PORT" "$AGENTS" "$MEMBERS" "$CHANGES" \
  > "$DIR/server.log" 2>&1 &
SERVER_PID=$!
if [[ "$AGENT_MODE" == agents ]]; then
  # PushClient agents each keep the whole membership: about 1 GiB per thousand (3 GiB stalled at 4,000)
  AGENT_HEAP=${AGENT_HEAP:-$(( AGENTS / 1000 + 3 ))g}
else
  AGENT_HEAP=${AGENT_HEAP:-2g}
fi
# shellcheck disable=SC2086
"${AGENTS_CPU[@]}" java -Xmx"$AGENT_HEAP" ${AGENT_OPTS:-} -cp "$JAR" dev.conduit.benchmarks.PushFanoutBench "$AGENT_MODE" "$DIR" \
  "$PORT" "$AGENTS" "$CHANGES" > "$DIR/agents.log" 2>&1 &
AGENTS_PID=$!
# the server exits when it has measured every change (its own deadlines bound that)
if ! timeout 3600 tail --pid="$SERVER_PID" -f /dev/null; then
  echo "push-bench: timed out" >&2
fi
wait "$SERVER_PID" || { echo "push-bench: the server failed:" >&2; tail -20 "$DIR/server.log" >&2; tail -5 "$DIR/agents.log" >&2; exit 1; }
SERVER_PID=
# the agents print their RESULT once every one had every change, which the server saw acknowledged
if ! timeout 120 tail --pid="$AGENTS_PID" -f /dev/null; then
  echo "push-bench: the agents did not finish" >&2
fi
wait "$AGENTS_PID" || { echo "push-bench: the agents failed:" >&2; tail -20 "$DIR/agents.log" >&2; exit 1; }
AGENTS_PID=
echo "push-bench: $AGENTS agents ($AGENT_MODE), $MEMBERS members, $CHANGES changes$([[ "${PIN:-0}" == 1 ]] && echo ", server on CPU 0, agents on CPU 1")"
grep -E "^(server|SERVER)" "$DIR/server.log"
grep -E "^(watchers|agents|RESULT)" "$DIR/agents.log"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
