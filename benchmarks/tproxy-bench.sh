#!/usr/bin/env bash
# TPROXY gateway benchmark, every figure from the same run: a client namespace C (198.18.1.2) reaches a server
# namespace S (198.18.2.2, iperf3) through a gateway namespace G that forwards. Measured with iperf3:
#   UDP packets/s (64-byte datagrams, sent as fast as iperf3 can) and the relay's CPU per packet:
#     - direct:  G forwards in the kernel (the ceiling; its CPU is softirq time, not attributed)
#     - conduit: G's TPROXY rules (conduit's CapturePlan, --udp) divert to TransparentUdpRelay
#                (dev.conduit.netfilter.TransparentMain -Dudp=true)
#     - socat:   a user-space UDP relay on G's address (socat UDP4-LISTEN -> UDP4-SENDTO), the client addressing it
#   TCP throughput (Gbit/s, PAR streams) and the relay's CPU seconds per GB:
#     - direct, conduit (the same TPROXY capture, TCP), HAProxy (mode tcp, `bind ... transparent` behind the
#       textbook TPROXY rule: iptables -j TPROXY --on-port, fwmark 1 -> table 100 local route)
# CPU is the relay process's utime+stime (/proc/PID/stat) over the iperf3 run. Prints one table; cleans up.
#
# Usage (root; build first: ./mvnw -q -o -pl conduit-netfilter -am test-compile):
#   benchmarks/tproxy-bench.sh [seconds=10] [parallel=4]
set -euo pipefail
SECS=${1:-10}
PAR=${2:-4}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
C=cdt-c-$$; G=cdt-g-$$; S=cdt-s-$$
PIDS=()
TMP=$(mktemp -d)
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  sleep 1
  for n in "$C" "$G" "$S"; do ip netns del "$n" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

CP="$ROOT/conduit-netfilter/target/classes:$ROOT/conduit-netfilter/target/test-classes:$ROOT/conduit-core/target/classes:$ROOT/conduit-core/target/test-classes"
CP="$CP:$(cd "$ROOT" && ./mvnw -q -o -pl conduit-netfilter dependency:build-classpath -Dmdep.outputFile=/dev/stdout | tr ':' '\n' | grep -v conduit-core | paste -sd:)"

for n in "$C" "$G" "$S"; do ip netns add "$n"; ip -n "$n" link set lo up; done
ip link add c0 netns "$C" type veth peer name g0 netns "$G"
ip link add g1 netns "$G" type veth peer name s0 netns "$S"
ip -n "$C" addr add 198.18.1.2/24 dev c0; ip -n "$G" addr add 198.18.1.1/24 dev g0
ip -n "$G" addr add 198.18.2.1/24 dev g1; ip -n "$S" addr add 198.18.2.2/24 dev s0
for l in "$C c0" "$G g0" "$G g1" "$S s0"; do set -- $l; ip -n "$1" link set "$2" up; done
ip -n "$C" route add default via 198.18.1.1
ip -n "$S" route add default via 198.18.2.1
ip netns exec "$G" sysctl -qw net.ipv4.ip_forward=1

cpu() { # utime+stime of a process, in seconds
  awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"
}
iperf() { # TARGET ARGS...: runs one iperf3 test from C, prints its JSON
  local target=$1; shift
  ip netns exec "$S" iperf3 -s -1 >/dev/null 2>&1 & local s=$!; PIDS+=("$s"); sleep 0.5
  ip netns exec "$C" iperf3 -c "$target" -t "$SECS" -J "$@" || true
  wait "$s" 2>/dev/null || true
}
udp() { # TARGET RELAY_PID|-: "pps cpu_us_per_packet"
  local before=0; [ "$2" != - ] && before=$(cpu "$2")
  local json; json=$(iperf "$1" -u -b 0 -l 64)
  local after=0; [ "$2" != - ] && after=$(cpu "$2")
  python3 -c '
import json, sys
j = json.loads(sys.argv[1]); s = j["end"]["sum"]
received = s["packets"] - s["lost_packets"]
cpu = float(sys.argv[3]) - float(sys.argv[2])
per = "%.2f" % (cpu / received * 1e6) if sys.argv[4] != "-" and received else "kernel"
print("%d %s %.1f%%" % (received / s["seconds"], per, s["lost_percent"]))' "$json" "$before" "$after" "$2"
}
tcp() { # TARGET RELAY_PID|-: "gbit cpu_s_per_GB"
  local before=0; [ "$2" != - ] && before=$(cpu "$2")
  local json; json=$(iperf "$1" -P "$PAR")
  local after=0; [ "$2" != - ] && after=$(cpu "$2")
  python3 -c '
import json, sys
r = json.loads(sys.argv[1])["end"]["sum_received"]
cpu = float(sys.argv[3]) - float(sys.argv[2])
per = "%.2f" % (cpu / (r["bytes"] / 1e9)) if sys.argv[4] != "-" else "kernel"
print("%.2f %s" % (r["bits_per_second"] / 1e9, per))' "$json" "$before" "$after" "$2"
}
row() { printf '%-10s %-6s %s\n' "$1" "$2" "$3"; }

echo "load before: $(uptime)"
echo "UDP: packets/s received, relay CPU µs/packet, loss | TCP: Gbit/s ($PAR streams), relay CPU s/GB"
row direct UDP "$(udp 198.18.2.2 -)"
row direct TCP "$(tcp 198.18.2.2 -)"

# conduit: TPROXY capture of 198.18.2.0/24 (TCP and UDP) to its listener and UDP relay on 15001
ip netns exec "$G" java -Xmx512m -Dquiet=true -Dudp=true -cp "$CP" dev.conduit.netfilter.TransparentMain \
  TPROXY iptables 15001 CDB net:198.18.2.0/24 > "$TMP/conduit.log" 2>&1 &
CPID=$!; PIDS+=("$CPID")
for _ in $(seq 1 120); do grep -q '^READY' "$TMP/conduit.log" && break; sleep 0.5; done
JPID=$(pgrep -P "$CPID" java || echo "$CPID") # ip netns exec may exec java itself
row conduit UDP "$(udp 198.18.2.2 "$JPID")"
row conduit TCP "$(tcp 198.18.2.2 "$JPID")"
kill -TERM "$CPID"; wait "$CPID" 2>/dev/null || true   # removes its rules

# socat: a user-space UDP relay the client addresses (G's 198.18.1.1), iperf3's control connection beside it
ip netns exec "$G" socat TCP4-LISTEN:5201,bind=198.18.1.1,reuseaddr,fork TCP4:198.18.2.2:5201 &
PIDS+=("$!")
ip netns exec "$G" socat -T 30 UDP4-LISTEN:5201,bind=198.18.1.1,reuseaddr UDP4-SENDTO:198.18.2.2:5201 &
SPID=$!; PIDS+=("$SPID"); sleep 0.5
row socat UDP "$(udp 198.18.1.1 "$SPID")"

# HAProxy: the textbook TPROXY recipe, transparent bind, fixed backend (its own dial is not in PREROUTING)
cat > "$TMP/haproxy.cfg" <<CFG
global
  maxconn 1000
defaults
  mode tcp
  timeout connect 5s
  timeout client 1m
  timeout server 1m
frontend fe
  bind 0.0.0.0:15002 transparent
  default_backend be
backend be
  server s1 198.18.2.2:5201
CFG
ip netns exec "$G" iptables -t mangle -A PREROUTING -p tcp -d 198.18.2.2 --dport 5201 \
  -j TPROXY --on-port 15002 --tproxy-mark 0x1/0x1
ip netns exec "$G" ip rule add fwmark 0x1/0x1 lookup 100
ip netns exec "$G" ip route add local 0.0.0.0/0 dev lo table 100
ip netns exec "$G" haproxy -f "$TMP/haproxy.cfg" -db > "$TMP/haproxy.log" 2>&1 &
HPID=$!; PIDS+=("$HPID"); sleep 1
row haproxy TCP "$(tcp 198.18.2.2 "$HPID")"
echo "load after: $(uptime)"
