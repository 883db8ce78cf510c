#!/usr/bin/env bash
# Old rules against new: one TCP-through-TPROXY measurement with the build in ROOT ($1) (conduit-netfilter and
# conduit-core classes and test classes built there): C -> G (CapturePlan, iptables backend, TransparentMain) -> S
# iperf3. Prints "ROOT Gbit/s CPU-s/GB". Alternate two checkouts, e.g.
#   for i in 1 2 3 4; do for r in ../old-checkout .; do benchmarks/capture-ab.sh $r 8 4; done; done
set -euo pipefail
ROOT=$1; SECS=${2:-8}; PAR=${3:-4}
C=cab-c-$$; G=cab-g-$$; S=cab-s-$$; PIDS=(); TMP=$(mktemp -d)
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; sleep 1
  for n in "$C" "$G" "$S"; do ip netns del "$n" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT
CP="$ROOT/conduit-netfilter/target/classes:$ROOT/conduit-netfilter/target/test-classes:$ROOT/conduit-core/target/classes:$ROOT/conduit-core/target/test-classes"
CP="$CP:$(cd "$ROOT" && ./mvnw -q -o -pl conduit-netfilter dependency:build-classpath -Dmdep.outputFile=/dev/stdout | tr ':' '\n' | grep -v conduit-core | paste -sd:)"
for n in "$C" "$G" "$S"; do ip netns add "$n"; ip -n "$n" link set lo up; done
ip link add c0 netns "$C" type veth peer name g0 netns "$G"
ip link add g1 netns "$G" type veth peer name s0 netns "$S"
ip -n "$C" addr add 198.18.1.2/24 dev c0; ip -n "$G" addr add 198.18.1.1/24 dev g0
ip -n "$G" addr add 198.18.2.1/24 dev g1; ip -n "$S" addr add 198.18.2.2/24 dev s0
for l in "$C c0" "$G g0" "$G g1" "$S s0"; do set -- $l; ip -n "$1" link set "$2" up; done
ip -n "$C" route add default via 198.18.1.1; ip -n "$S" route add default via 198.18.2.1
ip netns exec "$G" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1  # the old build demands it
ip netns exec "$G" java -Xmx512m -Dquiet=true -cp "$CP" dev.conduit.netfilter.TransparentMain \
  TPROXY iptables 15001 CAB 198.18.2.2:5201 > "$TMP/conduit.log" 2>&1 &
CPID=$!; PIDS+=("$CPID")
for _ in $(seq 1 120); do grep -q '^READY' "$TMP/conduit.log" && break; sleep 0.5; done
JPID=$(pgrep -P "$CPID" java || echo "$CPID")
cpu() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }
ip netns exec "$S" iperf3 -s -1 >/dev/null 2>&1 & s=$!; PIDS+=("$s"); sleep 0.5
before=$(cpu "$JPID")
json=$(ip netns exec "$C" iperf3 -c 198.18.2.2 -t "$SECS" -J -P "$PAR" || true)
after=$(cpu "$JPID")
python3 -c '
import json, sys
r = json.loads(sys.argv[1])["end"]["sum_received"]
cpu = float(sys.argv[3]) - float(sys.argv[2])
print("%s %.2f Gbit/s %.2f cpu-s/GB" % (sys.argv[4], r["bits_per_second"] / 1e9, cpu / (r["bytes"] / 1e9)))' "$json" "$before" "$after" "$ROOT"
