#!/usr/bin/env bash
# End-to-end benchmark of conduit against peer proxies, on 127.0.0.1 only.
#
#   benchmarks/e2e/run.sh [-n RUNS] [-t SECONDS] [-s "tcp http tunnels mem mtls mitm"] [--no-build] [--no-results]
#   E2E_BASELINE_JAR=old/benchmarks.jar benchmarks/e2e/run.sh ...   # adds "baseline conduit" rows to scenarios 2 and 3
#
# Builds benchmarks.jar, starts conduit (dev.conduit.benchmarks.BenchServer) and the peers (Debian
# packages, installed when missing; LittleProxy from Maven Central), runs every scenario RUNS times
# (interleaved: run 1 of every row, then run 2, ...) for SECONDS each, prints one markdown table and
# writes it to benchmarks/RESULTS.md with the date, machine and versions. Every process it starts is
# recorded by PID and stopped by PID (with its descendants) on exit.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
RUN=${E2E_RUN:-$ROOT/benchmarks/run}
N=3
T=5
SCENARIOS="tcp http tunnels mem mtls mitm"
BUILD=1
WRITE_RESULTS=1
MEM_RUNS=${MEM_RUNS:-1}  # memory per tunnel barely varies between runs; opening ~10k tunnels takes a while
MEM_TUNNELS=${MEM_TUNNELS:-}  # default: 10,000, or fewer when the fd hard limit is lower (2 fds per tunnel)
LITTLEPROXY_VERSION=2.2.0
# another build's benchmarks.jar (e.g. an older commit): its BenchServer runs next to this one and scenario 2 times
# both in the same runs, interleaved, so a regression shows against the same machine state
BASELINE_JAR=${E2E_BASELINE_JAR:-}

while [[ $# -gt 0 ]]; do
  case $1 in
    -n) N=$2; shift 2 ;;
    -t) T=$2; shift 2 ;;
    -s) SCENARIOS=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --no-results) WRITE_RESULTS=0; shift ;;
    -h|--help) sed -n 2,11p "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

# ports (distinct from shared/peerbench's, so both can coexist)
IPERF=25201; NGINX=28080
HAPROXY_IPERF=25212; HAPROXY_NGINX=25222
SOCAT_IPERF=25211
DANTE=21081; SQUID=23128; TINYPROXY=28888; LITTLEPROXY=28889
C_HTTP=23130; C_SOCKS=21080; C_MIXED=21082
C_FWD_IPERF=25231; C_FWD_NGINX=25232  # conduit's fixed-destination TCP forward, HAProxy's job
C_HTTP_BASELINE=23140; C_SOCKS_BASELINE=21140  # E2E_BASELINE_JAR's HTTP and SOCKS5 proxies
# scenario mitm: HTTPS origin, squid caching + ssl-bump, mitmproxy, conduit cache serve
NGINX_TLS=28443; SQUID_BUMP=23131; SQUID_BUMP_PLAIN=23133; MITMPROXY=28090; C_MITM=23132
# scenario 5, mTLS tunnel pairs: conduit A (one process per forward entry) -> conduit B; stunnel client -> server
MTLS_B=25301; MTLS_A_IPERF=25300; MTLS_A_NGINX=25310
MTLS_A_H2_IPERF=25330; MTLS_A_H2_NGINX=25331  # conduit A with multiplex: true (HTTP/2 streams over one connection)
STUNNEL_S_IPERF=25315; STUNNEL_S_NGINX=25325; STUNNEL_C_IPERF=25314; STUNNEL_C_NGINX=25324; STUNNEL_C_NGINX_FULL=25326

PY=python3
TOOL=("$PY" "$HERE/e2e.py")
OUT=$RUN/results-$(date +%Y%m%d-%H%M%S).jsonl
log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# ------------------------------------------------------------------ processes (by PID only)
declare -A PID=()
descendants() {  # pid -> its descendants, deepest first
  local c
  for c in $(pgrep -P "$1" 2>/dev/null || true); do
    descendants "$c"
    echo "$c"
  done
}
stop() {  # name: TERM the recorded PID and its descendants, KILL what is left after 5 s
  local name=$1 pid=${PID[$1]:-}
  [[ -n $pid ]] || return 0
  local all
  all="$(descendants "$pid") $pid"
  kill -TERM $all 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL $all 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset "PID[$name]"
}
cleanup() {
  local name
  for name in "${!PID[@]}"; do stop "$name"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start() {  # name cmd... : run in the background, log to $RUN/logs/name.log, record the PID
  local name=$1; shift
  "$@" >"$RUN/logs/$name.log" 2>&1 &
  PID[$name]=$!
}
wait_port() {  # name port
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null; then return 0; fi
    kill -0 "${PID[$1]}" 2>/dev/null || { log "$1 exited: $(tail -3 "$RUN/logs/$1.log")"; return 1; }
    sleep 0.1
  done
  log "$1: port $2 not listening after 10 s"; return 1
}

# ------------------------------------------------------------------ setup
ports_free() {  # every port this harness listens on must be free, or a stray server would answer for a peer
  local busy=() p
  for p in $IPERF $NGINX $HAPROXY_IPERF $HAPROXY_NGINX $SOCAT_IPERF $DANTE $SQUID $TINYPROXY $LITTLEPROXY \
      $C_HTTP $C_HTTP_BASELINE $C_SOCKS_BASELINE $C_SOCKS $C_MIXED $C_FWD_IPERF $C_FWD_NGINX $NGINX_TLS $SQUID_BUMP $SQUID_BUMP_PLAIN $MITMPROXY $C_MITM \
      $MTLS_B $MTLS_A_IPERF $MTLS_A_NGINX $MTLS_A_H2_IPERF $MTLS_A_H2_NGINX $STUNNEL_S_IPERF $STUNNEL_S_NGINX $STUNNEL_C_IPERF $STUNNEL_C_NGINX \
      $STUNNEL_C_NGINX_FULL; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then busy+=("$p"); fi
  done
  if [[ ${#busy[@]} -gt 0 ]]; then
    log "ports already in use on 127.0.0.1: ${busy[*]} (stop whatever listens there first)"
    exit 1
  fi
}

need_tools() {
  local missing=() t pkg
  declare -A pkgs=([haproxy]=haproxy [socat]=socat [danted]=dante-server [squid]=squid [tinyproxy]=tinyproxy
    [iperf3]=iperf3 [wrk]=wrk [nginx]=nginx [stunnel4]=stunnel4 [proxychains4]=proxychains4
    [openssl]=openssl)
  for t in "${!pkgs[@]}"; do
    command -v "$t" >/dev/null || missing+=("${pkgs[$t]}")
  done
  if [[ ${#missing[@]} -gt 0 ]]; then
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >/dev/null
  fi
  command -v java >/dev/null && command -v jcmd >/dev/null || { log "java/jcmd missing"; exit 1; }
}

render() {  # template -> $RUN/conf/name
  sed -e "s#@RUN@#$RUN#g" -e "s#@IPERF@#$IPERF#g" -e "s#@NGINX@#$NGINX#g" \
    -e "s#@HAPROXY_IPERF@#$HAPROXY_IPERF#g" -e "s#@HAPROXY_NGINX@#$HAPROXY_NGINX#g" \
    -e "s#@DANTE@#$DANTE#g" -e "s#@SQUID@#$SQUID#g" -e "s#@TINYPROXY@#$TINYPROXY#g" \
    -e "s#@NGINX_TLS@#$NGINX_TLS#g" -e "s#@SQUID_BUMP@#$SQUID_BUMP#g" -e "s#@SQUID_BUMP_PLAIN@#$SQUID_BUMP_PLAIN#g" \
    "$HERE/conf/$1" >"$RUN/conf/$1"
}

setup() {
  mkdir -p "$RUN"/{conf,logs,www,nginx,squid,littleproxy}
  chmod 777 "$RUN/logs" "$RUN/squid"
  [[ -f $RUN/www/1k.bin ]] || head -c 1024 /dev/urandom >"$RUN/www/1k.bin"
  [[ -f $RUN/www/1b.bin ]] || printf x >"$RUN/www/1b.bin"
  for f in nginx.conf haproxy.cfg danted.conf squid.conf tinyproxy.conf; do render "$f"; done
  for kind in socks5 http; do
    local port=$C_SOCKS; [[ $kind == http ]] && port=$C_HTTP
    for p in "conduit-$kind:$port" "dante:$DANTE" "squid:$SQUID"; do
      printf 'strict_chain\nquiet_mode\ntcp_read_time_out 15000\ntcp_connect_time_out 8000\n[ProxyList]\n%s 127.0.0.1 %s\n' \
        "$kind" "${p#*:}" >"$RUN/conf/proxychains-${p%%:*}-$kind.conf"
    done
  done
  if [[ $BUILD == 1 ]]; then
    log "building benchmarks.jar"
    (cd "$ROOT" && ./mvnw -q -DskipTests -pl benchmarks,conduit-cli -am package)
  fi
  JAR=$ROOT/benchmarks/target/benchmarks.jar
  CLI_JAR=$ROOT/conduit-cli/target/conduit.jar
  [[ -f $CLI_JAR ]] || { log "$CLI_JAR missing (run without --no-build)"; exit 1; }
  [[ -f $JAR ]] || { log "$JAR missing (run without --no-build)"; exit 1; }
  if [[ ! -f $RUN/littleproxy/lib/littleproxy-$LITTLEPROXY_VERSION.jar ]]; then
    log "fetching LittleProxy $LITTLEPROXY_VERSION from Maven Central"
    sed "s#@VERSION@#$LITTLEPROXY_VERSION#" "$HERE/conf/littleproxy-pom.xml" >"$RUN/littleproxy/pom.xml"
    (cd "$RUN/littleproxy" && rm -rf lib && timeout 600 "$ROOT/mvnw" -q -B -f pom.xml dependency:copy-dependencies \
      -DoutputDirectory=lib -DincludeScope=runtime)
  fi
}

JVM_OPTS=(-Xmx1g -XX:+UseG1GC)
start_conduit() {
  start conduit java "${JVM_OPTS[@]}" ${CONDUIT_JVM_OPTS:-} -cp "$JAR" dev.conduit.benchmarks.BenchServer \
    --http $C_HTTP --socks $C_SOCKS --mixed $C_MIXED \
    --forward $C_FWD_IPERF=127.0.0.1:$IPERF --forward $C_FWD_NGINX=127.0.0.1:$NGINX ${CONDUIT_ARGS:-}
  wait_port conduit $C_SOCKS
}
start_peer() {
  case $1 in
    nginx) start nginx nginx -c "$RUN/conf/nginx.conf" -p "$RUN/nginx"; wait_port nginx $NGINX ;;
    iperf3) start iperf3 iperf3 -s -B 127.0.0.1 -p $IPERF; wait_port iperf3 $IPERF ;;
    conduit) start_conduit ;;
    haproxy) start haproxy haproxy -db -f "$RUN/conf/haproxy.cfg"; wait_port haproxy $HAPROXY_NGINX ;;
    socat) start socat socat TCP4-LISTEN:$SOCAT_IPERF,bind=127.0.0.1,reuseaddr,fork,backlog=4096 TCP4:127.0.0.1:$IPERF
      wait_port socat $SOCAT_IPERF ;;
    dante) start dante danted -f "$RUN/conf/danted.conf"; wait_port dante $DANTE ;;
    squid) start squid squid -N -f "$RUN/conf/squid.conf"; wait_port squid $SQUID ;;
    tinyproxy) start tinyproxy tinyproxy -d -c "$RUN/conf/tinyproxy.conf"; wait_port tinyproxy $TINYPROXY ;;
    mtls) start_mtls ;;
    littleproxy) start littleproxy java -Xmx1g -cp "$RUN/littleproxy/lib/*" "$HERE/LittleProxyMain.java" $LITTLEPROXY
      wait_port littleproxy $LITTLEPROXY ;;
  esac
}
start_baseline() {  # E2E_BASELINE_JAR's BenchServer: the HTTP and SOCKS5 proxies
  [[ -n $BASELINE_JAR ]] || return 0
  [[ -f $BASELINE_JAR ]] || { log "E2E_BASELINE_JAR: $BASELINE_JAR (no such file)"; exit 1; }
  start conduit-baseline java "${JVM_OPTS[@]}" ${CONDUIT_JVM_OPTS:-} -cp "$BASELINE_JAR" dev.conduit.benchmarks.BenchServer \
    --http $C_HTTP_BASELINE --socks $C_SOCKS_BASELINE ${CONDUIT_ARGS:-}
  wait_port conduit-baseline $C_HTTP_BASELINE
  wait_port conduit-baseline $C_SOCKS_BASELINE
}
pid_of() { echo "${PID[$1]:-}"; }

# ------------------------------------------------------------------ scenarios
scenario_tcp() {
  local streams=$1 key=tcp$1
  log "scenario 1: bulk TCP, $streams stream(s), $N x ${T}s"
  local rows=("direct" "conduit SOCKS5" "conduit CONNECT" "conduit TCP forward" "haproxy (TCP relay)"
    "socat (TCP relay)" "dante (SOCKS5)" "squid (CONNECT)")
  for r in $(seq "$N"); do
    for row in "${rows[@]}"; do
      local pids="" cmd=()
      case $row in
        direct) cmd=(iperf3 -c 127.0.0.1 -p $IPERF) ;;
        "conduit SOCKS5") pids=$(pid_of conduit); cmd=(proxychains4 -q -f "$RUN/conf/proxychains-conduit-socks5-socks5.conf" iperf3 -c 127.0.0.1 -p $IPERF) ;;
        "conduit CONNECT") pids=$(pid_of conduit); cmd=(proxychains4 -q -f "$RUN/conf/proxychains-conduit-http-http.conf" iperf3 -c 127.0.0.1 -p $IPERF) ;;
        "conduit TCP forward") pids=$(pid_of conduit); cmd=(iperf3 -c 127.0.0.1 -p $C_FWD_IPERF) ;;
        haproxy*) pids=$(pid_of haproxy); cmd=(iperf3 -c 127.0.0.1 -p $HAPROXY_IPERF) ;;
        socat*) pids=$(pid_of socat); cmd=(iperf3 -c 127.0.0.1 -p $SOCAT_IPERF) ;;
        dante*) pids=$(pid_of dante); cmd=(proxychains4 -q -f "$RUN/conf/proxychains-dante-socks5.conf" iperf3 -c 127.0.0.1 -p $IPERF) ;;
        squid*) pids=$(pid_of squid); cmd=(proxychains4 -q -f "$RUN/conf/proxychains-squid-http.conf" iperf3 -c 127.0.0.1 -p $IPERF) ;;
      esac
      "${TOOL[@]}" measure --kind iperf --scenario "$key" --row "$row" --run "$r" --pids "$pids" --out "$OUT" \
        --timeout $((T + 20)) -- "${cmd[@]}" -t "$T" -P "$streams" -J || true
    done
  done
}

scenario_http() {
  log "scenario 2: 1 KiB GETs through forward proxies, wrk -t2 -c64, $N x ${T}s"
  local rows=("direct" "conduit HTTP" "squid" "tinyproxy" "littleproxy")
  [[ -n $BASELINE_JAR ]] && rows=("direct" "conduit HTTP" "baseline conduit HTTP" "squid" "tinyproxy" "littleproxy")
  local target="http://127.0.0.1:$NGINX/1k.bin"
  # warm-up, not recorded: the JVM proxies (conduit, LittleProxy) compile their HTTP paths here instead of
  # in the first timed run (whose p99 was otherwise ~130 ms of JIT compilation)
  wrk -t2 -c64 -d3s --timeout 5s -s "$HERE/wrk-report.lua" "http://127.0.0.1:$C_HTTP/" -- "$target" "127.0.0.1:$NGINX" \
    >/dev/null 2>&1 || true
  wrk -t2 -c64 -d3s --timeout 5s -s "$HERE/wrk-report.lua" "http://127.0.0.1:$LITTLEPROXY/" -- "$target" "127.0.0.1:$NGINX" \
    >/dev/null 2>&1 || true
  if [[ -n $BASELINE_JAR ]]; then
    wrk -t2 -c64 -d3s --timeout 5s -s "$HERE/wrk-report.lua" "http://127.0.0.1:$C_HTTP_BASELINE/" -- "$target" \
      "127.0.0.1:$NGINX" >/dev/null 2>&1 || true
  fi
  for r in $(seq "$N"); do
    for row in "${rows[@]}"; do
      local pids="" url args=()
      case $row in
        direct) url="http://127.0.0.1:$NGINX/"; args=(/1k.bin) ;;
        conduit*) pids=$(pid_of conduit); url="http://127.0.0.1:$C_HTTP/"; args=("$target" "127.0.0.1:$NGINX") ;;
        baseline*) pids=$(pid_of conduit-baseline); url="http://127.0.0.1:$C_HTTP_BASELINE/"; args=("$target" "127.0.0.1:$NGINX") ;;
        squid) pids=$(pid_of squid); url="http://127.0.0.1:$SQUID/"; args=("$target" "127.0.0.1:$NGINX") ;;
        tinyproxy) pids=$(pid_of tinyproxy); url="http://127.0.0.1:$TINYPROXY/"; args=("$target" "127.0.0.1:$NGINX") ;;
        littleproxy) pids=$(pid_of littleproxy); url="http://127.0.0.1:$LITTLEPROXY/"; args=("$target" "127.0.0.1:$NGINX") ;;
      esac
      "${TOOL[@]}" measure --kind wrk --scenario http1k --row "$row" --run "$r" --pids "$pids" --out "$OUT" \
        --timeout $((T + 20)) -- wrk -t2 -c64 -d"${T}s" --timeout 5s -s "$HERE/wrk-report.lua" "$url" -- "${args[@]}" || true
    done
  done
}

scenario_tunnels() {
  log "scenario 3: new tunnels/s (tunnel + GET of 1 byte, HTTP/1.0), 2 client processes x 16, $N x ${T}s"
  local rows=("direct" "conduit CONNECT" "conduit SOCKS5" "conduit TCP forward" "haproxy (TCP relay)" "squid (CONNECT)"
    "dante (SOCKS5)")
  local warm=(http:127.0.0.1:$C_HTTP socks5:127.0.0.1:$C_SOCKS relay:127.0.0.1:$C_FWD_NGINX)
  if [[ -n $BASELINE_JAR ]]; then
    rows=("direct" "conduit CONNECT" "baseline conduit CONNECT" "conduit SOCKS5" "baseline conduit SOCKS5"
      "conduit TCP forward" "haproxy (TCP relay)" "squid (CONNECT)" "dante (SOCKS5)")
    warm+=(http:127.0.0.1:$C_HTTP_BASELINE socks5:127.0.0.1:$C_SOCKS_BASELINE)
  fi
  # warm-up, not recorded: run 1 would otherwise time the JIT compiling the tunnel paths (when scenario 2 did not run)
  for via in "${warm[@]}"; do
    timeout 60 "${TOOL[@]}" connrate --scenario warmup --row conduit --out "$RUN/warmup.jsonl" --via "$via" \
      --target 127.0.0.1:$NGINX --duration 3 --concurrency 32 --procs 2 >/dev/null || true
  done
  for r in $(seq "$N"); do
    for row in "${rows[@]}"; do
      local pids="" via
      case $row in
        direct) via=direct ;;
        "conduit CONNECT") pids=$(pid_of conduit); via=http:127.0.0.1:$C_HTTP ;;
        "conduit SOCKS5") pids=$(pid_of conduit); via=socks5:127.0.0.1:$C_SOCKS ;;
        "baseline conduit CONNECT") pids=$(pid_of conduit-baseline); via=http:127.0.0.1:$C_HTTP_BASELINE ;;
        "baseline conduit SOCKS5") pids=$(pid_of conduit-baseline); via=socks5:127.0.0.1:$C_SOCKS_BASELINE ;;
        "conduit TCP forward") pids=$(pid_of conduit); via=relay:127.0.0.1:$C_FWD_NGINX ;;
        haproxy*) pids=$(pid_of haproxy); via=relay:127.0.0.1:$HAPROXY_NGINX ;;
        squid*) pids=$(pid_of squid); via=http:127.0.0.1:$SQUID ;;
        dante*) pids=$(pid_of dante); via=socks5:127.0.0.1:$DANTE ;;
      esac
      timeout $((T + 60)) "${TOOL[@]}" connrate --scenario tunnels --row "$row" --run "$r" --pids "$pids" --out "$OUT" \
        --via "$via" --target 127.0.0.1:$NGINX --duration "$T" --concurrency 32 --procs 2 || true
    done
  done
}

scenario_mem() {
  log "scenario 4: $MEM_TUNNELS idle tunnels to nginx; each proxy restarted fresh first, then warmed up (4) or not (4b)"
  local rows=("conduit CONNECT" "conduit SOCKS5" "haproxy (TCP relay)" "squid (CONNECT)")
  for r in $(seq "$MEM_RUNS"); do
    for phase in warm fresh; do
      for row in "${rows[@]}"; do
        local name via jvm=0 key=mem
        case $row in
          "conduit CONNECT") name=conduit; via=http:127.0.0.1:$C_HTTP ;;
          "conduit SOCKS5") name=conduit; via=socks5:127.0.0.1:$C_SOCKS ;;
          haproxy*) name=haproxy; via=relay:127.0.0.1:$HAPROXY_NGINX ;;
          squid*) name=squid; via=http:127.0.0.1:$SQUID ;;
        esac
        stop "$name"; start_peer "$name"; sleep 2
        [[ $name == conduit ]] && jvm=$(pid_of conduit)
        if [[ $phase == warm ]]; then
          # 2 s of short tunnels through the same path, all closed again: a proxy that has served traffic,
          # so one-time costs (the JVM's JIT and first-touched heap, any peer's first-use pools) are not
          # divided among the tunnels; 4b keeps them in
          timeout 60 "${TOOL[@]}" connrate --scenario warmup --row "$row" --out "$RUN/warmup.jsonl" --via "$via" \
            --target 127.0.0.1:$NGINX --duration 2 --concurrency 32 --procs 1 >/dev/null || true
          sleep 2
        else
          key=memfresh
        fi
        timeout 200 "${TOOL[@]}" hold --scenario "$key" --row "$row" --run "$r" --pids "$(pid_of "$name")" \
          --out "$OUT" --via "$via" --target 127.0.0.1:$NGINX --count "$MEM_TUNNELS" --jvm-pid "$jvm" || true
        sleep 1
      done
    done
  done
}

# scenario 5 (caching MITM proxy). Its own PKI in $RUN/pki: one EC CA that signs the origin's certificate and
# is also the interception CA of every MITM peer (clients trust only it); conduit runs the CLI's shaded jar
# (`conduit cache serve`, netty-tcnative BoringSSL). Rows: a 100 MiB cache hit over plain HTTP vs nginx serving
# the file (and squid's memory hit); intercepted 1 KiB GETs (not cached by any peer, so forwarded to the
# origin) with keep-alive and with a new CONNECT + TLS handshake per request; a 100 MiB intercepted cache hit.
mitm_pki() {
  local K=$RUN/pki
  [[ -s $K/origin.crt ]] && return 0
  mkdir -p "$K"
  (
    cd "$K"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -keyout ca.key -out ca.crt \
      -subj "/CN=conduit e2e test CA" -addext basicConstraints=critical,CA:TRUE \
      -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout origin.key -out origin.csr \
      -subj "/CN=localhost" 2>/dev/null
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n' >origin.ext
    openssl x509 -req -in origin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 -extfile origin.ext \
      -out origin.crt 2>/dev/null
    rm -f origin.csr origin.ext
    chmod 600 ./*.key
    cat ca.crt ca.key >mitm-ca.pem; chgrp proxy mitm-ca.pem; chmod 640 mitm-ca.pem   # squid
    mkdir -p conduit mitmproxy; cp ca.crt ca.key conduit/                              # conduit --cert-dir
    cat ca.key ca.crt >mitmproxy/mitmproxy-ca.pem                                      # mitmproxy confdir
  )
}

start_mitm_peers() {
  command -v mitmdump >/dev/null || { log "installing mitmproxy"; DEBIAN_FRONTEND=noninteractive apt-get install -y mitmproxy >/dev/null; }
  mitm_pki
  [[ -s $RUN/www/100m.bin ]] || head -c 104857600 /dev/urandom >"$RUN/www/100m.bin"
  mkdir -p "$RUN"/nginx-tls/{body,proxy,fastcgi,uwsgi,scgi}
  render nginx-tls.conf; render squid-bump.conf
  rm -rf "$RUN/squid-bump" "$RUN/mitm-cache"; mkdir -p "$RUN/squid-bump"
  /usr/lib/squid/security_file_certgen -c -s "$RUN/squid-bump/ssl_db" -M 16MB >/dev/null
  chown -R proxy:proxy "$RUN/squid-bump"; : >"$RUN/logs/squid-bump-access.log"; chmod 666 "$RUN/logs/squid-bump-access.log"
  start nginx-tls nginx -c "$RUN/conf/nginx-tls.conf" -p "$RUN/nginx-tls"; wait_port nginx-tls $NGINX_TLS
  start squid-bump squid -N -f "$RUN/conf/squid-bump.conf"; wait_port squid-bump $SQUID_BUMP
  start mitmproxy mitmdump -q --listen-host 127.0.0.1 -p $MITMPROXY --set confdir="$RUN/pki/mitmproxy" \
    --set ssl_verify_upstream_trusted_ca="$RUN/pki/ca.crt" --set stream_large_bodies=1m
  wait_port mitmproxy $MITMPROXY
  start conduit-mitm java "${JVM_OPTS[@]}" ${CONDUIT_JVM_OPTS:-} -jar "$CLI_JAR" cache serve \
    --cert-dir "$RUN/pki/conduit" --cache-dir "$RUN/mitm-cache" --listen 127.0.0.1:$C_MITM --intercept localhost \
    --filter '/100m\.bin$' --trust-upstream-ca "$RUN/pki/ca.crt"
  wait_port conduit-mitm $C_MITM
}

scenario_mitm() {
  log "scenario 5: caching MITM proxy vs nginx, squid (caching, ssl-bump) and mitmproxy, $N x ${T}s"
  start_mitm_peers
  local W='%{http_code} %{size_download} %{time_total} %{speed_download} %header{x-cache}\n'
  local plain=http://127.0.0.1:$NGINX/100m.bin tls=https://localhost:$NGINX_TLS/100m.bin size=104857600
  local ca=$RUN/pki/ca.crt r row
  local curl=(curl -s -o /dev/null --max-time 60 -w "$W")
  # fill every cache (one miss each), then warm up, not recorded: the JVM's JIT (and every peer's caches) see
  # each path a few times before it is timed; compilation in the background skews 0.1-s transfers otherwise
  for i in 1 2 3; do
    for v in "$C_MITM" "$SQUID_BUMP_PLAIN"; do "${curl[@]}" -x "http://127.0.0.1:$v" "$plain" >/dev/null || true; done
    for v in "$C_MITM" "$SQUID_BUMP"; do "${curl[@]}" --cacert "$ca" -x "http://127.0.0.1:$v" "$tls" >/dev/null || true; done
  done
  # warm-up, not recorded: the JVM's JIT (and every peer's caches) see the request paths before they are timed
  for v in "$C_MITM" "$SQUID_BUMP" "$MITMPROXY"; do
    for mode in keepalive handshake; do
      timeout 60 "${TOOL[@]}" tlsrate --scenario warmup --row "$v" --out "$RUN/warmup.jsonl" --via http:127.0.0.1:$v \
        --target 127.0.0.1:$NGINX_TLS --name localhost --cafile "$ca" --mode $mode --path /1k.bin --duration 3 \
        --concurrency 16 --procs 2 >/dev/null || true
    done
  done
  for i in 1 2 3; do
    "${curl[@]}" -x "http://127.0.0.1:$C_MITM" "$plain" >/dev/null || true
    "${curl[@]}" --cacert "$ca" -x "http://127.0.0.1:$C_MITM" "$tls" >/dev/null || true
  done
  sleep 3
  for r in $(seq "$N"); do
    for row in "nginx (direct)" "conduit cache hit" "squid memory cache hit"; do
      local pids="" x=()
      case $row in
        nginx*) pids=$(pid_of nginx) ;;
        conduit*) pids=$(pid_of conduit-mitm); x=(-x "http://127.0.0.1:$C_MITM") ;;
        squid*) pids=$(pid_of squid-bump); x=(-x "http://127.0.0.1:$SQUID_BUMP_PLAIN") ;;
      esac
      "${TOOL[@]}" measure --kind curl --expect-bytes $size --scenario cachehit --row "$row" --run "$r" --pids "$pids" \
        --out "$OUT" --timeout 90 -- "${curl[@]}" "${x[@]}" "$plain" || true
    done
    for row in "direct (nginx HTTPS)" "conduit MITM cache hit" "squid ssl-bump memory cache hit"; do
      local pids="" x=()
      case $row in
        direct*) pids=$(pid_of nginx-tls) ;;
        conduit*) pids=$(pid_of conduit-mitm); x=(-x "http://127.0.0.1:$C_MITM") ;;
        squid*) pids=$(pid_of squid-bump); x=(-x "http://127.0.0.1:$SQUID_BUMP") ;;
      esac
      "${TOOL[@]}" measure --kind curl --expect-bytes $size --scenario mitmhit --row "$row" --run "$r" --pids "$pids" \
        --out "$OUT" --timeout 90 -- "${curl[@]}" --cacert "$ca" "${x[@]}" "$tls" || true
    done
    for mode in keepalive handshake; do
      local key=mitmka; [[ $mode == handshake ]] && key=mitmnew
      for row in "direct (nginx HTTPS)" "conduit MITM" "squid ssl-bump" "mitmproxy"; do
        local pids="" via
        case $row in
          direct*) pids=$(pid_of nginx-tls); via=direct ;;
          conduit*) pids=$(pid_of conduit-mitm); via=http:127.0.0.1:$C_MITM ;;
          squid*) pids=$(pid_of squid-bump); via=http:127.0.0.1:$SQUID_BUMP ;;
          mitmproxy) pids=$(pid_of mitmproxy); via=http:127.0.0.1:$MITMPROXY ;;
        esac
        timeout $((T + 60)) "${TOOL[@]}" tlsrate --scenario $key --row "$row" --run "$r" --pids "$pids" --out "$OUT" \
          --via "$via" --target 127.0.0.1:$NGINX_TLS --name localhost --cafile "$ca" --mode $mode --path /1k.bin \
          --duration "$T" --concurrency 16 --procs 2 || true
      done
    done
  done
  log "squid-bump result codes: $(awk '{print $4}' "$RUN/logs/squid-bump-access.log" | sort | uniq -c | tr -s ' \n' ' ')"
  for p in conduit-mitm mitmproxy squid-bump nginx-tls; do stop "$p"; done
}

# ------------------------------------------------------------------ scenario 5: mTLS tunnel pairs
# conduit A (seed 000 client: forward entry -> peer B over mTLS) -> conduit B (seed 000 server, mtls) -> target,
# against stunnel client -> stunnel server; TLS 1.3 with ECDSA P-256 certificates from one CA made in the run dir.
mtls_pki() {  # $RUN/mtls/pki: CA, tunnel-server (DNS/IP SAN) and tunnel-client certificates (openssl, EC P-256)
  local K=$RUN/mtls/pki
  [[ -s $K/tunnel-client.crt ]] && return 0
  mkdir -p "$K"
  (
    cd "$K"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -keyout ca.key -out ca.crt \
      -subj "/CN=e2e mTLS CA" -addext basicConstraints=critical,CA:TRUE \
      -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
    mk() {  # name, extendedKeyUsage, SAN
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$1" 2>/dev/null
      printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\nsubjectAltName=%s\n' \
        "$2" "$3" >"$1.ext"
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -extfile "$1.ext" \
        -out "$1.crt" 2>/dev/null
      rm -f "$1.csr" "$1.ext"
    }
    mk tunnel-server serverAuth "DNS:tunnel-server,IP:127.0.0.1"
    mk tunnel-client clientAuth "DNS:tunnel-client"
    chmod 600 ./*.key
  )
}

mtls_conf() {  # seed-000 YAMLs for conduit B and the A processes (HTTP/1.1 and multiplexed); stunnel configs
  local K=$RUN/mtls/pki C=$RUN/mtls name listen dst
  # no per-connection logging on either side (stunnel debug = 4 logs warnings only)
  cat >"$C/conduit-b.yaml" <<EOF
server:
  enable: true
  listen:
    network: tcp
    addr: 127.0.0.1:$MTLS_B
    tls:
      enable: true
      mtls: true
      cas: [$K/ca.crt]
      certs: [{cert: $K/tunnel-server.crt, key: $K/tunnel-server.key}]
log: {level: warn, access: "off"}
EOF
  local multiplex
  for name in iperf nginx h2-iperf h2-nginx; do
    case $name in
      iperf) listen=$MTLS_A_IPERF; dst=$IPERF ;;
      nginx) listen=$MTLS_A_NGINX; dst=$NGINX ;;
      h2-iperf) listen=$MTLS_A_H2_IPERF; dst=$IPERF ;;
      h2-nginx) listen=$MTLS_A_H2_NGINX; dst=$NGINX ;;
    esac
    if [[ $name == h2-* ]]; then multiplex=true; else multiplex=false; fi
    cat >"$C/conduit-a-$name.yaml" <<EOF
client:
  enable: true
  network: tcp
  listen: 127.0.0.1:$listen
  check_time: 60
  capture: false
  forward_table:
    - {dst: ":$listen", dst_as: "127.0.0.1:$dst", peer_index: 1}
  peers:
    - index: 1
      network: tcp
      addresses: [127.0.0.1:$MTLS_B]
      tls:
        enable: true
        mtls: true
        cas: [$K/ca.crt]
        certs: [{cert: $K/tunnel-client.crt, key: $K/tunnel-client.key}]
        multiplex: $multiplex
log: {level: warn, access: "off"}
EOF
  done
  local client="cert = $K/tunnel-client.crt
key = $K/tunnel-client.key
CAfile = $K/ca.crt
verifyChain = yes
checkHost = tunnel-server
sslVersionMin = TLSv1.3
sslVersionMax = TLSv1.3"
  # client-side session resumption is stunnel's default (sessionResume = yes); [nginx-full] turns it off
  cat >"$C/stunnel-client.conf" <<EOF
foreground = yes
pid =
output = $RUN/logs/stunnel-client.log
debug = 4
[iperf]
client = yes
accept = 127.0.0.1:$STUNNEL_C_IPERF
connect = 127.0.0.1:$STUNNEL_S_IPERF
$client
[nginx]
client = yes
accept = 127.0.0.1:$STUNNEL_C_NGINX
connect = 127.0.0.1:$STUNNEL_S_NGINX
$client
[nginx-full]
client = yes
sessionResume = no
accept = 127.0.0.1:$STUNNEL_C_NGINX_FULL
connect = 127.0.0.1:$STUNNEL_S_NGINX
$client
EOF
  local server="cert = $K/tunnel-server.crt
key = $K/tunnel-server.key
CAfile = $K/ca.crt
requireCert = yes
verifyChain = yes
sslVersionMin = TLSv1.3
sslVersionMax = TLSv1.3"
  cat >"$C/stunnel-server.conf" <<EOF
foreground = yes
pid =
output = $RUN/logs/stunnel-server.log
debug = 4
[iperf]
accept = 127.0.0.1:$STUNNEL_S_IPERF
connect = 127.0.0.1:$IPERF
$server
[nginx]
accept = 127.0.0.1:$STUNNEL_S_NGINX
connect = 127.0.0.1:$NGINX
$server
EOF
}

start_mtls() {  # conduit B, conduit A for iperf3 and for nginx (HTTP/1.1 and multiplexed), stunnel server and client
  mkdir -p "$RUN/mtls"
  mtls_pki
  mtls_conf
  local conduit=(java "${JVM_OPTS[@]}" ${CONDUIT_JVM_OPTS:-} -jar "$CLI_JAR" run -c)
  start mtls-b "${conduit[@]}" "$RUN/mtls/conduit-b.yaml"
  start mtls-a-iperf "${conduit[@]}" "$RUN/mtls/conduit-a-iperf.yaml"
  start mtls-a-nginx "${conduit[@]}" "$RUN/mtls/conduit-a-nginx.yaml"
  start mtls-a-h2-iperf "${conduit[@]}" "$RUN/mtls/conduit-a-h2-iperf.yaml"
  start mtls-a-h2-nginx "${conduit[@]}" "$RUN/mtls/conduit-a-h2-nginx.yaml"
  start stunnel-server stunnel4 "$RUN/mtls/stunnel-server.conf"
  start stunnel-client stunnel4 "$RUN/mtls/stunnel-client.conf"
  wait_port mtls-b $MTLS_B && wait_port mtls-a-iperf $MTLS_A_IPERF && wait_port mtls-a-nginx $MTLS_A_NGINX \
    && wait_port mtls-a-h2-iperf $MTLS_A_H2_IPERF && wait_port mtls-a-h2-nginx $MTLS_A_H2_NGINX \
    && wait_port stunnel-server $STUNNEL_S_NGINX && wait_port stunnel-client $STUNNEL_C_NGINX_FULL
}

scenario_mtls() {
  log "scenario 5: mTLS tunnel pair, conduit A -> B vs stunnel client -> server: 1-stream iperf3 and new tunnels/s, $N x ${T}s"
  local b a_iperf a_nginx a_h2_iperf a_h2_nginx st r row pids port
  b=$(pid_of mtls-b); a_iperf=$(pid_of mtls-a-iperf); a_nginx=$(pid_of mtls-a-nginx)
  a_h2_iperf=$(pid_of mtls-a-h2-iperf); a_h2_nginx=$(pid_of mtls-a-h2-nginx)
  st="$(pid_of stunnel-client),$(pid_of stunnel-server)"
  # warm-up, not recorded: the JVMs' JIT compilers take a core for ~10 s of new tunnels (a one-time cost that
  # would otherwise be charged to the first runs); the first tunnels do full handshakes
  timeout 60 "${TOOL[@]}" connrate --scenario warmup --row conduit --out "$RUN/mtls/warmup.jsonl" \
    --via relay:127.0.0.1:$MTLS_A_NGINX --target 127.0.0.1:$NGINX --duration 10 --concurrency 32 --procs 2 >/dev/null || true
  timeout 60 "${TOOL[@]}" connrate --scenario warmup --row conduit-h2 --out "$RUN/mtls/warmup.jsonl" \
    --via relay:127.0.0.1:$MTLS_A_H2_NGINX --target 127.0.0.1:$NGINX --duration 10 --concurrency 32 --procs 2 >/dev/null || true
  iperf3 -c 127.0.0.1 -p $MTLS_A_IPERF -t 3 >/dev/null 2>&1 || true
  iperf3 -c 127.0.0.1 -p $MTLS_A_H2_IPERF -t 3 >/dev/null 2>&1 || true
  for r in $(seq "$N"); do
    for row in "conduit mTLS pair" "conduit mTLS h2 (multiplexed)" "stunnel mTLS pair"; do
      case $row in
        *multiplexed*) pids="$a_h2_iperf,$b"; port=$MTLS_A_H2_IPERF ;;
        conduit*) pids="$a_iperf,$b"; port=$MTLS_A_IPERF ;;
        stunnel*) pids=$st; port=$STUNNEL_C_IPERF ;;
      esac
      "${TOOL[@]}" measure --kind iperf --scenario mtls1 --row "$row" --run "$r" --pids "$pids" --out "$OUT" \
        --timeout $((T + 20)) -- iperf3 -c 127.0.0.1 -p "$port" -t "$T" -P 1 -J || true
    done
  done
  for r in $(seq "$N"); do
    for row in "conduit mTLS pair" "conduit mTLS h2 (multiplexed)" "stunnel mTLS pair, resumption" \
        "stunnel mTLS pair, full handshakes"; do
      case $row in
        *multiplexed*) pids="$a_h2_nginx,$b"; port=$MTLS_A_H2_NGINX ;;
        conduit*) pids="$a_nginx,$b"; port=$MTLS_A_NGINX ;;
        *resumption) pids=$st; port=$STUNNEL_C_NGINX ;;
        *handshakes) pids=$st; port=$STUNNEL_C_NGINX_FULL ;;
      esac
      timeout $((T + 60)) "${TOOL[@]}" connrate --scenario mtlsconn --row "$row" --run "$r" --pids "$pids" --out "$OUT" \
        --via relay:127.0.0.1:$port --target 127.0.0.1:$NGINX --duration "$T" --concurrency 32 --procs 2 || true
    done
  done
}

# ------------------------------------------------------------------ report
versions() {
  local v
  echo "- conduit: $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?') (branch $(cd "$ROOT" && git rev-parse --abbrev-ref HEAD 2>/dev/null || echo '?')), BenchServer JVM options: ${JVM_OPTS[*]} ${CONDUIT_JVM_OPTS:-}, arguments: ${CONDUIT_ARGS:-none}"
  echo "- Java: $(java -version 2>&1 | head -1)"
  for p in haproxy socat dante-server squid squid-openssl tinyproxy iperf3 wrk nginx proxychains4 stunnel4 openssl mitmproxy; do
    v=$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null || true)
    [[ -n $v ]] && echo "- $p $v"
  done
  [[ " $SCENARIOS " == *" mitm "* ]] && echo "- scenario 5: conduit-cli/target/conduit.jar \`conduit cache serve\` (shaded, netty-tcnative BoringSSL), same JVM options"
  echo "- LittleProxy xyz.rogfam:littleproxy:$LITTLEPROXY_VERSION (Maven Central, Netty 4.1), run by benchmarks/e2e/LittleProxyMain.java"
}

report() {
  local header=$RUN/results-header.md
  {
    echo "# conduit end-to-end benchmark results"
    echo
    echo "Generated by \`benchmarks/e2e/run.sh -n $N -t $T -s \"$SCENARIOS\"\` on $(date -u '+%Y-%m-%d %H:%M UTC')."
    echo "Raw runs: one JSON line each in \`benchmarks/run/$(basename "$OUT")\` (not committed)."
    echo
    echo "## Machine"
    echo
    echo "- $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
    echo "- kernel $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME"), loopback only (127.0.0.1)"
    echo "- load average at the start: $LOADAVG_START (other work on the machine makes the numbers noisy)"
    echo
    echo "## Versions"
    echo
    versions
    echo
    echo "## Results"
    echo
    echo "Median of $N runs (min–max; memory: $MEM_RUNS run). \"conduit / this\": the best conduit row of the scenario divided by this row"
    echo "(> 1 means conduit is better; for memory, lower is better, so < 1 means conduit uses less)."
    echo "Proxy CPU: utime+stime of the proxy's process tree from /proc during the run (100 = one core), with the"
    echo "cost per unit of work. Peak RSS: VmHWM summed over the process tree, reset before each run (for"
    echo "fork-per-connection peers it double-counts shared pages). Load generator CPU: iperf3/wrk/the Python client"
    echo "(they share the same 2 cores). \"error\": the row could not run (see the JSON for why)."
    echo
    echo "@TABLE@"
    echo
    cat "$HERE/RESULTS-notes.md" 2>/dev/null || true
  } >"$header"
  local dest=$RUN/RESULTS.md
  [[ $WRITE_RESULTS == 1 ]] && dest=$ROOT/benchmarks/RESULTS.md
  "${TOOL[@]}" report "$OUT" --header-file "$header" --out "$dest"
  log "table written to $dest"
}

# ------------------------------------------------------------------ main
ulimit -n "$(ulimit -Hn)"  # raise the soft limit as far as allowed; a proxy needs 2 fds per tunnel
if [[ -z $MEM_TUNNELS ]]; then
  MEM_TUNNELS=10000
  fd_max=$(ulimit -n)
  if [[ $fd_max != unlimited && $(( (fd_max - 1000) / 2 )) -lt $MEM_TUNNELS ]]; then
    MEM_TUNNELS=$(( (fd_max - 1000) / 2 / 500 * 500 ))
    log "open files hard limit $fd_max: scenario 4 holds $MEM_TUNNELS tunnels instead of 10,000"
  fi
fi
LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
ports_free
need_tools
setup
log "results: $OUT"
for p in nginx iperf3 conduit haproxy socat dante squid tinyproxy littleproxy; do start_peer "$p"; done
if [[ " $SCENARIOS " == *" http "* || " $SCENARIOS " == *" tunnels "* ]]; then start_baseline; fi
if [[ " $SCENARIOS " == *" mtls "* ]]; then start_peer mtls; fi
log "started: $(for k in "${!PID[@]}"; do printf '%s=%s ' "$k" "${PID[$k]}"; done)"
for s in $SCENARIOS; do
  case $s in
    tcp) scenario_tcp 1; scenario_tcp 8 ;;
    http) scenario_http ;;
    tunnels) scenario_tunnels ;;
    mem) scenario_mem ;;
    mitm) scenario_mitm ;;
    mtls) scenario_mtls ;;
    *) log "unknown scenario $s (expected: tcp http tunnels mem mtls mitm)" ;;
  esac
done
report
