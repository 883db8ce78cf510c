#!/usr/bin/env bash
# Transparent relay throughput: iperf3 client in namespace A -> server in namespace B (198.18.0.2:5201),
# captured by one REDIRECT rule set in A, relayed by (1) conduit's transparent listener
# (dev.conduit.netfilter.TransparentMain, bypass mark on its dials) and (2) HAProxy in mode tcp behind
# the same kind of REDIRECT rule with a fixed backend (B's second address 198.18.0.3, which the rule does not
# capture, so HAProxy's own dials are not recaptured). Prints Gbit/s for each; cleans up.
#
# Usage (root; build first: ./mvnw -q -o -pl conduit-netfilter -am test-compile):
#   benchmarks/transparent-bench.sh [seconds=10] [parallel=4]
# Target: conduit within 10% of its own CONNECT relay, no more than 15% below HAProxy.
set -euo pipefail
SECS=${1:-10}
PAR=${2:-4}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
A=cdb-a-$$; B=cdb-b-$$
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  sleep 1
  ip netns del "$A" 2>/dev/null || true
  ip netns del "$B" 2>/dev/null || true
}
trap cleanup EXIT

CP="$ROOT/conduit-netfilter/target/classes:$ROOT/conduit-netfilter/target/test-classes:$ROOT/conduit-core/target/classes:$ROOT/conduit-core/target/test-classes"
CP="$CP:$(cd "$ROOT" && ./mvnw -q -o -pl conduit-netfilter dependency:build-classpath -Dmdep.outputFile=/dev/stdout | tr ':' '\n' | grep -v conduit-core | paste -sd:)"

ip netns add "$A"; ip netns add "$B"
ip -n "$A" link set lo up; ip -n "$B" link set lo up
ip link add a0 netns "$A" type veth peer name b0 netns "$B"
ip -n "$A" addr add 198.18.0.1/24 dev a0; ip -n "$B" addr add 198.18.0.2/24 dev b0
ip -n "$A" link set a0 up; ip -n "$B" link set b0 up

ip -n "$B" addr add 198.18.0.3/24 dev b0
run_iperf() { # [target [client prefix...]]: prints Gbit/s of the receiver
  local target=${1:-198.18.0.2}; shift || true
  ip netns exec "$B" iperf3 -s -1 >/dev/null 2>&1 & local s=$!; PIDS+=("$s"); sleep 0.5
  ip netns exec "$A" "$@" iperf3 -c "$target" -t "$SECS" -P "$PAR" -J \
    | python3 -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9))'
  wait "$s" 2>/dev/null || true
}

echo "direct (no proxy):        $(run_iperf) Gbit/s"

# conduit: transparent listener + REDIRECT plan (iptables) + SO_MARK on its dials
ip netns exec "$A" java -Xmx512m -Dquiet=true -cp "$CP" dev.conduit.netfilter.TransparentMain \
  REDIRECT iptables 15001 CDB 198.18.0.2:5201 > /tmp/conduit-bench-$$.log 2>&1 &
PIDS+=("$!"); CPID=$!
for _ in $(seq 1 60); do grep -q '^READY' /tmp/conduit-bench-$$.log && break; sleep 0.5; done
echo "conduit transparent:      $(run_iperf) Gbit/s"
kill -TERM "$CPID"; wait "$CPID" 2>/dev/null || true   # removes its rules

# conduit's own CONNECT relay in the same namespaces (no capture rule: the client names the proxy),
# the reference for "transparent within 10 % of CONNECT"; needs benchmarks.jar and proxychains4
JAR="$ROOT/benchmarks/target/benchmarks.jar"
if [ -f "$JAR" ] && command -v proxychains4 >/dev/null; then
  ip netns exec "$A" java -Xmx512m -cp "$JAR" dev.conduit.benchmarks.BenchServer --http 15003 --socks 15004 \
    --mixed 15005 > /tmp/conduit-connect-$$.log 2>&1 &
  PIDS+=("$!"); BPID=$!
  for _ in $(seq 1 60); do grep -q 'ready' /tmp/conduit-connect-$$.log && break; sleep 0.5; done
  printf 'strict_chain\nquiet_mode\n[ProxyList]\nhttp 127.0.0.1 15003\n' > /tmp/pc-$$.conf
  echo "conduit CONNECT:          $(run_iperf 198.18.0.3 proxychains4 -q -f /tmp/pc-$$.conf) Gbit/s"
  kill -TERM "$BPID"; wait "$BPID" 2>/dev/null || true
  rm -f /tmp/pc-$$.conf /tmp/conduit-connect-$$.log
else
  echo "conduit CONNECT:          skipped (build benchmarks.jar and install proxychains4)"
fi

# HAProxy in mode tcp behind the same capture; it dials 198.18.0.3, which the rule does not match
cat > /tmp/haproxy-bench-$$.cfg <<CFG
global
  maxconn 1000
defaults
  mode tcp
  timeout connect 5s
  timeout client 1m
  timeout server 1m
frontend fe
  bind :15002
  default_backend be
backend be
  server s1 198.18.0.3:5201
CFG
ip netns exec "$A" iptables -t nat -A OUTPUT -p tcp -d 198.18.0.2 --dport 5201 -j REDIRECT --to-ports 15002
ip netns exec "$A" haproxy -f /tmp/haproxy-bench-$$.cfg -db >/tmp/haproxy-bench-$$.log 2>&1 &
PIDS+=("$!"); sleep 1
echo "haproxy (mode tcp):       $(run_iperf || cat /tmp/haproxy-bench-$$.log) Gbit/s"
rm -f /tmp/haproxy-bench-$$.cfg /tmp/haproxy-bench-$$.log /tmp/conduit-bench-$$.log
