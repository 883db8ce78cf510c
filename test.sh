#!/usr/bin/env bash
# Runs all of conduit's tests: unit, handler, socket (curl, JDK HttpClient, Netty clients) and system
# tests (iptables/ipset/nft in network namespaces, as root), then every JMH benchmark in smoke mode.
# Installs the system tools the tests need when they are missing (Debian/Ubuntu, as root).
set -euo pipefail
cd "$(dirname "$0")"

# tool -> Debian package
declare -A tools=(
  [curl]=curl [iptables]=iptables [ipset]=ipset [nft]=nftables [ip]=iproute2
  [socat]=socat [tinyproxy]=tinyproxy [haproxy]=haproxy [openssl]=openssl [python3]=python3
  [promtool]=prometheus [systemd-analyze]=systemd [jq]=jq [man]=man-db [slowhttptest]=slowhttptest [dig]=dnsutils [dnsmasq]=dnsmasq-base [apt-ftparchive]=apt-utils [dpkg-deb]=dpkg [apt-get]=apt [skopeo]=skopeo [conntrack]=conntrack [tcpdump]=tcpdump [chromium]=chromium [chromedriver]=chromium-driver [danted]=dante-server
)
missing=()
for tool in "${!tools[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || [ -x "/sbin/$tool" ] || missing+=("${tools[$tool]}")
done
# PySocks, the real SOCKS5 UDP client of SocksUdpTest (a module of Debian's python3, not a command)
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import socks' 2>/dev/null || missing+=(python3-socks)
# PostgreSQL for the control-plane store tests (they run initdb and postgres themselves; not on the PATH)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
# MariaDB for the MySQL/MariaDB store tests (they run mariadb-install-db and mariadbd themselves)
[ -x /usr/sbin/mariadbd ] && [ -x /usr/bin/mariadb-install-db ] || missing+=(mariadb-server)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing test tools: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "warning: missing ${missing[*]}; tests that need them will be skipped (run as root to install them)" >&2
  fi
fi
# packaged services must not run: tests start their own instances on free ports
for svc in tinyproxy haproxy prometheus postgresql mariadb; do
  if command -v systemctl >/dev/null 2>&1; then systemctl stop "$svc" >/dev/null 2>&1 || true; fi
done

./mvnw -B -ntp verify "$@"
# every JMH benchmark once, briefly, so none of them rots (the jar was built by verify)
SKIP_BUILD=1 benchmarks/jmh-smoke.sh
