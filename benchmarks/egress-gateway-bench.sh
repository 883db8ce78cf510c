#!/usr/bin/env bash
# Egress gateway with 10,000 allowlisted addresses, every figure from the same run: a protected namespace P
# (198.18.1.2) sends iperf3 TCP through a forwarding gateway namespace G to a server namespace S (198.19.0.2,
# allowlisted), three ways:
#   - plain:     G forwards and masquerades, no allowlist (the ceiling)
#   - conduit:   `conduit egress gateway` (one nft table, the allowlist in a set: one lookup per packet)
#   - seed 003:  outputGuard's model, one iptables rule per address: FORWARD `-s IP -j ACCEPT` and
#                `-d IP -j ACCEPT`, nat POSTROUTING `-d IP -j MASQUERADE`, loaded with iptables-restore; the
#                server's address was added first, so (rules being inserted at the top) its rules are last
# For each: Gbit/s (PAR streams) and the machine's busy CPU (all of /proc/stat but idle and iowait) per Gbit/s
# over the run. The kernel forwards in softirq context, which no process owns, so the machine's CPU is the
# measure; it includes whatever else runs on the host: compare rows of one run, and read `uptime`.
#
# Usage (root; ./conduit builds conduit-cli/target/conduit.jar when stale):
#   benchmarks/egress-gateway-bench.sh [seconds=10] [parallel=4] [addresses=10000]
set -euo pipefail
SECS=${1:-10}
PAR=${2:-4}
N=${3:-10000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
P=cde-p-$$; G=cde-g-$$; S=cde-s-$$
PIDS=()
TMP=$(mktemp -d)
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  sleep 1
  for n in "$P" "$G" "$S"; do ip netns del "$n" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

for n in "$P" "$G" "$S"; do ip netns add "$n"; ip -n "$n" link set lo up; done
ip link add p0 netns "$P" type veth peer name g0 netns "$G"
ip link add g1 netns "$G" type veth peer name s0 netns "$S"
ip -n "$P" addr add 198.18.1.2/24 dev p0; ip -n "$G" addr add 198.18.1.1/24 dev g0
ip -n "$G" addr add 198.19.0.1/16 dev g1; ip -n "$S" addr add 198.19.0.2/16 dev s0
for l in "$P p0" "$G g0" "$G g1" "$S s0"; do set -- $l; ip -n "$1" link set "$2" up; done
ip -n "$P" route add default via 198.18.1.1   # S has no route back to P: only masqueraded traffic returns
ip netns exec "$G" sysctl -qw net.ipv4.ip_forward=1

# the allowlist: the server first, then N-1 other addresses of 198.19.0.0/16
python3 - "$N" > "$TMP/allowlist" <<'PY'
import sys
n = int(sys.argv[1])
print("198.19.0.2")
i = 0
while n > 1:
    a = 256 + i  # from 198.19.1.0
    i += 1
    print("198.19.%d.%d" % (a // 256, a % 256)); n -= 1
PY

busy() { # busy CPU seconds of the machine so far
  awk -v hz="$(getconf CLK_TCK)" '/^cpu / {print ($2 + $3 + $4 + $7 + $8 + $9) / hz}' /proc/stat
}
run() { # prints "Gbit/s busy-CPU-cores-per-Gbit/s"
  ip netns exec "$S" iperf3 -s -1 >/dev/null 2>&1 & local s=$!; PIDS+=("$s"); sleep 0.5
  local before; before=$(busy)
  local json; json=$(ip netns exec "$P" iperf3 -c 198.19.0.2 -t "$SECS" -P "$PAR" -J || true)
  local after; after=$(busy)
  wait "$s" 2>/dev/null || true
  python3 -c '
import json, sys
r = json.loads(sys.argv[1])["end"]["sum_received"]
gbps = r["bits_per_second"] / 1e9
cores = (float(sys.argv[3]) - float(sys.argv[2])) / r["seconds"]
print("%.2f %.2f" % (gbps, cores / gbps if gbps else float("nan")))' "$json" "$before" "$after"
}
row() { printf '%-28s %s\n' "$1" "$2"; }

echo "load before: $(uptime)"
echo "Gbit/s ($PAR streams), busy CPU cores per Gbit/s; $N allowlisted addresses"

ip netns exec "$G" iptables -t nat -A POSTROUTING -s 198.18.1.0/24 -j MASQUERADE
row "plain forward+masquerade" "$(run)"
ip netns exec "$G" iptables -t nat -F POSTROUTING

# conduit's egress gateway: enforce mode, the allowlist from the file
ip netns exec "$G" "$ROOT/conduit" egress gateway --protected-network 198.18.1.0/24 \
  --allow-special 198.18.0.0/15 --allowlist-file "$TMP/allowlist" --state-file "$TMP/state" \
  --metrics-listen 127.0.0.1:9900 > "$TMP/conduit.log" 2>&1 &
CPID=$!; PIDS+=("$CPID")
for _ in $(seq 1 240); do
  ip netns exec "$G" nft list table inet conduit_egress 2>/dev/null | grep -q '198.19.0.2' && break; sleep 0.5
done
ip netns exec "$G" nft list table inet conduit_egress > "$TMP/nft.txt" 2>&1 || { cat "$TMP/conduit.log"; exit 1; }
row "conduit (nft set)" "$(run)"
kill -TERM "$CPID"; wait "$CPID" 2>/dev/null || true   # removes its table

# seed 003: one rule per address, the way outputGuard inserts them (-I 1), server's rules last
python3 - "$TMP/allowlist" > "$TMP/seed003.rules" <<'PY'
import sys
ips = [l.strip() for l in open(sys.argv[1]) if l.strip()]
order = list(reversed(ips))  # each -I 1 puts the newest on top: the first added ends last
print("*filter")
print(":FORWARD ACCEPT [0:0]")
for ip in order:
    print("-A FORWARD -d %s -j ACCEPT" % ip)
    print("-A FORWARD -s %s -j ACCEPT" % ip)
print("COMMIT")
print("*nat")
print(":POSTROUTING ACCEPT [0:0]")
for ip in order:
    print("-A POSTROUTING -s 0.0.0.0/0 -d %s -j MASQUERADE" % ip)
print("COMMIT")
PY
ip netns exec "$G" iptables-restore < "$TMP/seed003.rules"
row "seed 003 (rule per address)" "$(run)"
echo "rules: conduit $(grep -c 'elements\|198\.19' "$TMP/nft.txt") nft lines, seed 003 $(ip netns exec "$G" iptables-save | grep -c '^-A') iptables rules ($(iptables --version))"
echo "load after: $(uptime)"
