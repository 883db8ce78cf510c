#!/usr/bin/env bash
# The delay from an API add to enforcement at an egress gateway, end to end (issue 16's target: p99 under 1 s).
# `conduit egress server` runs in a namespace S (198.18.5.2) with a dnsmasq the script starts (names of
# bench.example.com), `conduit egress gateway --server` in a namespace G next to it (token, TLS). A driver in S
# adds entries through the JSON API one after another: IPS addresses of 198.19.0.0/16, then DOMAINS names that
# dnsmasq resolves to addresses of 198.18.200.0/21 (the server resolves each name when it is added). Each add's delay
# is from just before its POST to the moment `nft monitor` in G prints the kernel's event adding that address to
# the gateway's allowlist set: the event itself, read as it streams, no polling. The gateway's own path is all in
# it: the server's push, the TLS channel, the diff applied with nft, the state file written.
# Prints p50/p99/max per kind and overall, the POST's own latency, and the load average before and after.
#
# Usage (root; ./conduit builds conduit-cli/target/conduit.jar when stale; needs nft, dnsmasq, openssl, python3):
#   benchmarks/egress-push-delay-bench.sh [ips=300] [domains=100]
set -euo pipefail
IPS=${1:-300}
DOMAINS=${2:-100}
[ "$IPS" -le 60000 ] && [ "$DOMAINS" -le 2000 ] || { echo "at most 60000 addresses and 2000 domains" >&2; exit 2; }
ROOT=$(cd "$(dirname "$0")/.." && pwd)
G=cdp-g-$$; S=cdp-s-$$
PIDS=()
TMP=$(mktemp -d)
chmod 755 "$TMP"
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
  for n in "$G" "$S"; do ip netns del "$n" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
"$ROOT/conduit" --version >/dev/null   # builds the jar first, outside the measurement

for n in "$G" "$S"; do ip netns add "$n"; ip -n "$n" link set lo up; done
ip link add gs0 netns "$G" type veth peer name sg0 netns "$S"
ip -n "$G" addr add 198.18.5.1/24 dev gs0; ip -n "$S" addr add 198.18.5.2/24 dev sg0
ip -n "$G" link set gs0 up; ip -n "$S" link set sg0 up
ip -n "$G" link add gc0 type veth peer name gc1; ip -n "$G" link set gc1 up; ip -n "$G" addr add 198.18.1.1/24 dev gc0; ip -n "$G" link set gc0 up
ip netns exec "$G" sysctl -qw net.ipv4.ip_forward=1

# PKI: a CA and the server's certificate (IP SAN 198.18.5.2); the gateway authenticates with a token
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/ca.key" -out "$TMP/ca.pem" \
  -subj /CN=bench-ca -days 2 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/server.key" -out "$TMP/server.csr" \
  -subj /CN=198.18.5.2 2>/dev/null
printf 'subjectAltName=IP:198.18.5.2\nextendedKeyUsage=serverAuth\n' > "$TMP/ext"
openssl x509 -req -in "$TMP/server.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" -CAcreateserial \
  -out "$TMP/server.pem" -days 2 -extfile "$TMP/ext" 2>/dev/null
ADMIN=bench-admin-token-0123456789; GW=bench-gateway-token-0123456789
echo "ops:$ADMIN" > "$TMP/admin-tokens"; echo "gw:$GW" > "$TMP/gateway-tokens"; echo "$GW" > "$TMP/gateway-token"

# dnsmasq in S: d<i>.bench.example.com -> 198.18.200.0/21
python3 - "$DOMAINS" > "$TMP/hosts" <<'PY'
import sys
for i in range(int(sys.argv[1])):
    print("198.18.%d.%d d%d.bench.example.com" % (200 + i // 250, 1 + i % 250, i))
PY
chmod 644 "$TMP/hosts"
ip netns exec "$S" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
  --addn-hosts="$TMP/hosts" --listen-address=127.0.0.1 --bind-interfaces --port=5353 --local-ttl=300 \
  --pid-file= --local=/bench.example.com/ --log-facility=- > "$TMP/dnsmasq.log" 2>&1 &
PIDS+=($!)

await_line() { # file pattern seconds: start-up only (nothing is measured here), bounded
  local end=$((SECONDS + $3))
  until grep -q -- "$2" "$1" 2>/dev/null; do
    [ "$SECONDS" -lt "$end" ] || { echo "no '$2' in $1 within $3 s:" >&2; tail -30 "$1" >&2; exit 1; }
    sleep 0.2
  done
}

ip netns exec "$S" "$ROOT/conduit" egress server --store "$TMP/egress.db" --listen 127.0.0.1:8700 \
  --admin-token-file "$TMP/admin-tokens" --push-listen 198.18.5.2:8701 --tls-cert "$TMP/server.pem" \
  --tls-key "$TMP/server.key" --tls-ca "$TMP/ca.pem" --gateway-token-file "$TMP/gateway-tokens" \
  --dns-server 127.0.0.1:5353 --allow-special 198.18.0.0/15 > "$TMP/server.log" 2>&1 &
PIDS+=($!)
await_line "$TMP/server.log" "egress server: API and web page on" 120
ip netns exec "$G" "$ROOT/conduit" egress gateway --server 198.18.5.2:8701 --server-ca "$TMP/ca.pem" \
  --server-token-file "$TMP/gateway-token" --protected-network 198.18.1.0/24 --allow-special 198.18.0.0/15 \
  --state-file "$TMP/gateway-state" --metrics-listen 127.0.0.1:0 --hostname bench > "$TMP/gateway.log" 2>&1 &
PIDS+=($!)
await_line "$TMP/gateway.log" "egress gateway: table inet" 120   # connected: the driver's warm-up add shows it

echo "load before: $(cat /proc/loadavg)"
ip netns exec "$S" python3 - "$G" "$IPS" "$DOMAINS" "$ADMIN" <<'PY'
import json, math, re, subprocess, sys, threading, time, urllib.request

gateway_ns, ips, domains, token = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
seen = {}
cond = threading.Condition()
# the kernel's events on the gateway's sets, as nft prints them (one line each, flushed per event)
monitor = subprocess.Popen(["ip", "netns", "exec", gateway_ns, "stdbuf", "-oL", "nft", "monitor", "new",
                            "elements"], stdout=subprocess.PIPE, text=True, bufsize=1)
ADDRESS = re.compile(r"\b(\d+\.\d+\.\d+\.\d+)\b")

def read():
    for line in monitor.stdout:
        t = time.monotonic()
        if "allow4" not in line:
            continue
        with cond:
            for a in ADDRESS.findall(line):
                seen.setdefault(a, t)
            cond.notify_all()

threading.Thread(target=read, daemon=True).start()

def post(value):
    req = urllib.request.Request("http://127.0.0.1:8700/api/v1/entries", data=json.dumps({"value": value}).encode(),
                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        if r.status != 201:
            raise SystemExit("add %s: HTTP %d" % (value, r.status))

def add(value, address):
    t0 = time.monotonic()
    post(value)
    t1 = time.monotonic()
    with cond:
        if not cond.wait_for(lambda: address in seen, timeout=30):
            raise SystemExit("%s (%s) never reached the gateway's set within 30 s" % (value, address))
        return seen[address] - t0, t1 - t0

# warm-up: proves the gateway connected and the monitor is live before anything is measured (nft monitor says
# nothing when it is ready)
post("198.19.255.254")
with cond:
    if not cond.wait_for(lambda: "198.19.255.254" in seen, timeout=120):
        raise SystemExit("the warm-up address never reached the gateway's set")

delays = {"ip": [], "domain": []}
posts = []
start = time.monotonic()
for i in range(ips):
    a = "198.19.%d.%d" % (i // 250, 1 + i % 250)
    d, p = add(a, a)
    delays["ip"].append(d); posts.append(p)
for i in range(domains):
    d, p = add("d%d.bench.example.com" % i, "198.18.%d.%d" % (200 + i // 250, 1 + i % 250))
    delays["domain"].append(d); posts.append(p)
elapsed = time.monotonic() - start
monitor.terminate()

def pct(values, q):  # nearest rank
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]

def row(name, values):
    if values:
        print("%-26s n=%-5d p50 %7.1f ms   p99 %7.1f ms   max %7.1f ms" % (name, len(values),
              pct(values, 0.5) * 1e3, pct(values, 0.99) * 1e3, max(values) * 1e3))

print("API add -> element in the gateway's nft set (nft monitor event), adds one after another:")
row("address entries", delays["ip"])
row("domain entries (resolved)", delays["domain"])
row("all", delays["ip"] + delays["domain"])
row("the POST alone", posts)
print("%d adds in %.1f s; allowlist size at the end: %d" % (ips + domains, elapsed, ips + domains + 1))
PY
echo "load after: $(cat /proc/loadavg)"
echo "gateway: $(ip netns exec "$G" nft list set inet conduit_egress allow4_out | grep -o '198\.1[89]\.[0-9]*\.[0-9]*' | sort -u | wc -l) IPv4 addresses in its set"
