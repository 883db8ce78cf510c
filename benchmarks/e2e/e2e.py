#!/usr/bin/env python3
"""Helper of benchmarks/e2e/run.sh (stdlib only): runs one bounded load and records it.

  measure  run a load command (iperf3, wrk or curl), account the proxy's CPU and peak RSS, the load
           generator's CPU, append one JSON line
  connrate new tunnels per second (tunnel + HTTP/1.0 GET of 1 byte), asyncio, N processes
  hold     open N idle tunnels, report RSS (and JVM heap) growth per tunnel
  tlsrate  HTTPS GETs through a (MITM) proxy: keep-alive or one new TLS connection per request
  report   median of the runs per row -> one markdown table (stdout and RESULTS.md)

Every address must be loopback; every loop is bounded by a duration and a count.
"""
import argparse
import asyncio
import ipaddress
import json
import os
import re
import resource
import socket
import statistics
import struct
import subprocess
import sys
import time

CLK = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------ safety
def hostport(s):
    h, _, p = s.rpartition(":")
    h = h.strip("[]")
    if not ipaddress.ip_address(h).is_loopback:
        raise SystemExit(f"refusing non-loopback address {h}")
    return h, int(p)


def parse_via(spec):
    """direct | socks5:H:P | http:H:P"""
    if spec == "direct":
        return ("direct", None)
    kind, _, hp = spec.partition(":")
    if kind not in ("socks5", "http", "relay"):
        raise SystemExit(f"bad --via {spec}")
    return (kind, hostport(hp))


# ------------------------------------------------------------------ /proc accounting
def tree(pids):
    """The pids and all their live descendants."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    st = f.read()
                kids.setdefault(int(st[st.rfind(")") + 2:].split()[1]), []).append(int(d))
            except OSError:
                pass
    out, stack = set(), [int(p) for p in pids]
    while stack:
        p = stack.pop()
        if p not in out and os.path.exists(f"/proc/{p}"):
            out.add(p)
            stack.extend(kids.get(p, []))
    return sorted(out)


def cpu_ticks(pids):
    tot = 0
    for p in tree(pids):
        try:
            with open(f"/proc/{p}/stat") as f:
                st = f.read()
            r = st[st.rfind(")") + 2:].split()
            tot += int(r[11]) + int(r[12]) + int(r[13]) + int(r[14])
        except OSError:
            pass
    return tot


def status_kib(pids, field):
    tot = 0
    for p in tree(pids):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith(field + ":"):
                        tot += int(line.split()[1])
        except OSError:
            pass
    return tot


def reset_peak(pids):
    """Resets VmHWM (peak RSS) of every process of the trees (Linux: clear_refs 5)."""
    for p in tree(pids):
        try:
            with open(f"/proc/{p}/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass


def machine_ticks():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v), v[3] + v[4]


def jvm_heap_used_kib(pid):
    """Heap in use after a full GC (jcmd), or None."""
    try:
        subprocess.run(["jcmd", str(pid), "GC.run"], capture_output=True, timeout=30)
        out = subprocess.run(["jcmd", str(pid), "GC.heap_info"], capture_output=True, text=True, timeout=30).stdout
        m = re.search(r"total (\d+)K, used (\d+)K", out)
        return int(m.group(2)) if m else None
    except (OSError, subprocess.TimeoutExpired):
        return None


def each_ticks(pids):
    """CPU ticks of each pid's tree, in order (for rows made of several processes)."""
    return [cpu_ticks([p]) for p in pids] if len(pids) > 1 else None


def pids_arg(s):
    return [int(p) for p in (s or "").split(",") if p.strip()]


def append(out, rec):
    with open(out, "a") as f:
        f.write(json.dumps(rec) + "\n")


# ------------------------------------------------------------------ measure
def parse_iperf(out):
    j = json.loads(out)
    if "error" in j:
        return {"error": j["error"]}
    e = j["end"]
    return {"value": e["sum_received"]["bits_per_second"] / 1e9, "bytes": e["sum_received"]["bytes"]}


def parse_wrk(out):
    for line in out.splitlines():
        if line.startswith("E2EJSON "):
            j = json.loads(line[8:])
            secs = j["duration_us"] / 1e6
            # read/write errors alone are a proxy closing after each response (tinyproxy: no keep-alive)
            bad = j["err_connect"] + j["err_status"] + j["err_timeout"]
            if j["requests"] == 0 or bad > j["requests"] / 100:
                return {"error": f"{bad} connect/status/timeout errors, {j['requests']} requests"}
            return {"value": j["requests"] / secs, "p50_ms": j["lat_p50_us"] / 1000,
                    "p99_ms": j["lat_p99_us"] / 1000, "requests": j["requests"],
                    "closes": j["err_read"] + j["err_write"]}
    return {"error": "no E2EJSON line from wrk"}


def parse_curl(out, expect_bytes=None):
    # -w '%{http_code} %{size_download} %{time_total} %{speed_download} %header{x-cache}'
    parts = out.strip().split()
    if len(parts) < 4:
        return {"error": f"bad curl output {out[-100:]!r}"}
    code, size, secs, speed = int(parts[0]), int(float(parts[1])), float(parts[2]), float(parts[3])
    rec = {"value": speed / 1048576, "bytes": size, "seconds": secs, "x_cache": " ".join(parts[4:])}
    if code != 200 or (expect_bytes and size != expect_bytes):
        rec = {"error": f"status {code}, {size} bytes (expected 200, {expect_bytes})"}
    return rec


def cmd_measure(a):
    pids = pids_arg(a.pids)
    reset_peak(pids)
    e0 = each_ticks(pids)
    c0, m0, r0, t0 = cpu_ticks(pids), machine_ticks(), resource.getrusage(resource.RUSAGE_CHILDREN), time.time()
    try:
        pr = subprocess.run(a.command, capture_output=True, text=True, timeout=a.timeout)
        out, err, rc = pr.stdout, pr.stderr, pr.returncode
    except subprocess.TimeoutExpired:
        out, err, rc = "", "timeout", 124
    wall = time.time() - t0
    c1, m1, r1 = cpu_ticks(pids), machine_ticks(), resource.getrusage(resource.RUSAGE_CHILDREN)
    rec = {"scenario": a.scenario, "row": a.row, "run": a.run, "rc": rc}
    try:
        if a.kind == "curl":
            rec.update(parse_curl(out, a.expect_bytes))
        else:
            rec.update({"iperf": parse_iperf, "wrk": parse_wrk}[a.kind](out))
    except Exception as ex:
        rec["error"] = f"unparsable output ({ex}): {(out + err).strip()[-200:]}"
    if rc != 0 and "error" not in rec:
        rec["error"] = f"exit {rc}: {err.strip()[-200:]}"
    finish(rec, pids, c0, c1, m0, m1, wall, (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime), e0)
    if a.kind == "iperf" and "error" not in rec and pids:
        gb = rec["bytes"] / 1e9
        rec["cpu_per_unit"] = f"{(c1 - c0) / CLK * 1000 / gb:.0f} ms/GB" if gb else None
    if a.kind == "wrk" and "error" not in rec and pids:
        rec["cpu_per_unit"] = f"{(c1 - c0) / CLK * 1e6 / rec['requests']:.0f} µs/req"
    if a.kind == "curl" and "error" not in rec and pids:
        gb = rec["bytes"] / 1e9
        rec["cpu_per_unit"] = f"{(c1 - c0) / CLK * 1000 / gb:.0f} ms/GB" if gb else None
    append(a.out, rec)
    say(rec)


def finish(rec, pids, c0, c1, m0, m1, wall, loadgen_cpu_s, e0=None):
    if pids:
        rec["cpu_pct"] = round(100.0 * (c1 - c0) / CLK / wall, 1)
        rec["peak_rss_mib"] = round(status_kib(pids, "VmHWM") / 1024, 1)
    if e0:
        rec["cpu_pct_each"] = [round(100.0 * (t1 - t0) / CLK / wall, 1) for t0, t1 in zip(e0, each_ticks(pids))]
        rec["peak_rss_mib_each"] = [round(status_kib([p], "VmHWM") / 1024, 1) for p in pids]
    rec["loadgen_cpu_pct"] = round(100.0 * loadgen_cpu_s / wall, 1)
    tot, idle = m1[0] - m0[0], m1[1] - m0[1]
    rec["machine_busy_pct"] = round(100.0 * (tot - idle) / tot, 1) if tot else None


def each(rec, key):
    return f" ({' + '.join(str(v) for v in rec[key])})" if rec.get(key) else ""


def say(rec):
    v = rec.get("value")
    extra = f" p50={rec['p50_ms']:.2f}ms p99={rec['p99_ms']:.2f}ms" if "p99_ms" in rec else ""
    print(f"  {rec['scenario']:10s} {rec['row']:24s} run{rec['run']}: "
          + (f"ERROR {rec['error']}" if "error" in rec else f"{v:.2f}{extra}")
          + f" cpu={rec.get('cpu_pct')}%{each(rec, 'cpu_pct_each')} rss={rec.get('peak_rss_mib')}MiB"
          f"{each(rec, 'peak_rss_mib_each')} loadgen={rec.get('loadgen_cpu_pct')}%"
          f" busy={rec.get('machine_busy_pct')}%", flush=True)


# ------------------------------------------------------------------ tunnels
async def open_tunnel(via, target, timeout=10.0):
    kind, proxy = via
    th, tp = target
    if kind == "direct":
        return await asyncio.wait_for(asyncio.open_connection(th, tp), timeout)
    r, w = await asyncio.wait_for(asyncio.open_connection(*proxy), timeout)
    if kind == "relay":
        return r, w
    try:
        if kind == "socks5":
            w.write(b"\x05\x01\x00")
            if await asyncio.wait_for(r.readexactly(2), timeout) != b"\x05\x00":
                raise ConnectionError("socks5 method refused")
            w.write(b"\x05\x01\x00\x01" + socket.inet_aton(th) + struct.pack("!H", tp))
            hdr = await asyncio.wait_for(r.readexactly(4), timeout)
            if hdr[1] != 0:
                raise ConnectionError(f"socks5 connect failed: reply {hdr[1]}")
            await asyncio.wait_for(r.readexactly({1: 4, 4: 16}[hdr[3]] + 2), timeout)
        else:
            w.write(f"CONNECT {th}:{tp} HTTP/1.1\r\nHost: {th}:{tp}\r\n\r\n".encode())
            head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), timeout)
            if b" 200" not in head.split(b"\r\n", 1)[0]:
                raise ConnectionError(f"CONNECT refused: {head[:40]!r}")
        return r, w
    except BaseException:
        w.close()
        raise


async def _connrate(via, target, duration, concurrency, limit):
    req = f"GET /1b.bin HTTP/1.0\r\nHost: {target[0]}:{target[1]}\r\n\r\n".encode()
    deadline = time.monotonic() + duration
    ok, fail, lats, errs = 0, 0, [], {}

    async def worker():
        nonlocal ok, fail
        n = 0
        while time.monotonic() < deadline and n < limit:
            n += 1
            t = time.monotonic()
            w = None
            try:
                r, w = await open_tunnel(via, target)
                w.write(req)
                data = await asyncio.wait_for(r.read(-1), 10)
                if b" 200 " not in data[:16]:
                    raise ConnectionError(f"bad response {data[:30]!r}")
                ok += 1
                lats.append(time.monotonic() - t)
            except Exception as ex:
                fail += 1
                k = f"{type(ex).__name__}: {str(ex)[:50]}"
                errs[k] = errs.get(k, 0) + 1
                await asyncio.sleep(0.01)
            finally:
                if w is not None:
                    w.close()

    t0 = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {"ok": ok, "fail": fail, "elapsed": time.monotonic() - t0, "lats": lats, "errs": errs}


def _connrate_child(args):
    return asyncio.run(_connrate(*args))


def pct(vals, q):
    vals = sorted(vals)
    return vals[min(len(vals) - 1, max(0, int(round(q / 100.0 * len(vals) + 0.5)) - 1))] if vals else 0


def _pooled_rate(a, child, args, unit, extra=None):
    """Runs `child(args)` in a.procs forked load processes and records the rate with the proxies' CPU (shared by
    connrate and tlsrate: each child returns ok, fail, elapsed, lats and errs)."""
    import multiprocessing
    pids = pids_arg(a.pids)
    reset_peak(pids)
    e0 = each_ticks(pids)
    c0, m0, t0 = cpu_ticks(pids), machine_ticks(), time.time()
    s0, ch0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    with multiprocessing.get_context("fork").Pool(a.procs) as pool:
        parts = pool.map(child, [args] * a.procs)
    wall = time.time() - t0
    c1, m1 = cpu_ticks(pids), machine_ticks()
    s1, ch1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    loadgen = (s1.ru_utime + s1.ru_stime - s0.ru_utime - s0.ru_stime) + (ch1.ru_utime + ch1.ru_stime - ch0.ru_utime - ch0.ru_stime)
    ok, fail = sum(p["ok"] for p in parts), sum(p["fail"] for p in parts)
    lats = [x for p in parts for x in p["lats"]]
    errs = {}
    for p in parts:
        for k, v in p["errs"].items():
            errs[k] = errs.get(k, 0) + v
    rec = {"scenario": a.scenario, "row": a.row, "run": a.run}
    if extra:
        rec.update(extra(parts))
    if ok == 0 or fail > ok / 100:
        rec["error"] = f"{fail} failed, {ok} ok: {list(errs)[:2]}"
    else:
        el = max(p["elapsed"] for p in parts)
        rec.update({"value": ok / el, "p50_ms": pct(lats, 50) * 1000, "p99_ms": pct(lats, 99) * 1000})
        if pids:
            rec["cpu_per_unit"] = f"{(c1 - c0) / CLK * 1e6 / ok:.0f} µs/{unit}"
    finish(rec, pids, c0, c1, m0, m1, wall, loadgen, e0)
    append(a.out, rec)
    say(rec)


def cmd_connrate(a):
    args = (parse_via(a.via), hostport(a.target), a.duration, max(1, a.concurrency // a.procs), 1_000_000)
    _pooled_rate(a, _connrate_child, args, "tunnel")


async def _hold(via, target, count, parallel, open_timeout):
    conns, fails = [], 0
    deadline = time.monotonic() + open_timeout
    sem = asyncio.Semaphore(parallel)

    async def one():
        nonlocal fails
        async with sem:
            if time.monotonic() > deadline:
                fails += 1
                return
            try:
                conns.append(await open_tunnel(via, target))
            except Exception:
                fails += 1

    await asyncio.gather(*(one() for _ in range(count)))
    return conns, fails


async def _verify_and_close(conns, target, n):
    alive = 0
    for r, w in conns[:n]:
        try:
            w.write(f"GET /1b.bin HTTP/1.1\r\nHost: {target[0]}:{target[1]}\r\n\r\n".encode())
            alive += (await asyncio.wait_for(r.readline(), 5)).startswith(b"HTTP/1.1 200")
        except Exception:
            pass
    for r, w in conns:
        w.close()
    return alive


def cmd_hold(a):
    pids = pids_arg(a.pids)
    via, target = parse_via(a.via), hostport(a.target)
    rss0 = status_kib(pids, "VmRSS")
    heap0 = jvm_heap_used_kib(a.jvm_pid) if a.jvm_pid else None
    loop = asyncio.new_event_loop()
    t0 = time.time()
    conns, fails = loop.run_until_complete(_hold(via, target, a.count, a.parallel, a.open_timeout))
    open_s = time.time() - t0
    time.sleep(a.settle)
    rss1 = status_kib(pids, "VmRSS")
    hwm = status_kib(pids, "VmHWM")
    heap1 = jvm_heap_used_kib(a.jvm_pid) if a.jvm_pid else None
    alive = loop.run_until_complete(_verify_and_close(conns, target, 20))
    loop.close()
    n = len(conns)
    rec = {"scenario": a.scenario, "row": a.row, "run": a.run, "opened": n, "failed": fails,
           "open_s": round(open_s, 1), "alive": f"{alive}/{min(20, n)}", "idle_rss_mib": round(rss0 / 1024, 1),
           "peak_rss_mib": round(hwm / 1024, 1)}
    if n < a.count * 0.99 or alive < min(20, n):
        rec["error"] = f"opened {n}/{a.count}, alive {alive}/{min(20, n)}"
    else:
        rec["value"] = (rss1 - rss0) / n
        if heap0 is not None and heap1 is not None:
            rec["heap_per_tunnel_kib"] = round((heap1 - heap0) / n, 2)
    append(a.out, rec)
    print(f"  {a.scenario:10s} {a.row:24s} run{a.run}: opened {n} (failed {fails}, {open_s:.1f}s, alive {alive}) "
          f"RSS {rss0/1024:.1f} -> {rss1/1024:.1f} MiB = {rec.get('value', 0):.1f} KiB/tunnel"
          + (f", heap {rec['heap_per_tunnel_kib']} KiB/tunnel" if "heap_per_tunnel_kib" in rec else "")
          + (f" ERROR {rec['error']}" if "error" in rec else ""), flush=True)


# ------------------------------------------------------------------ HTTPS through a (MITM) proxy
async def _tls_request(r, w, host, path, close, timeout=10.0):
    w.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{'Connection: close' + chr(13) + chr(10) if close else ''}\r\n"
            .encode())
    head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), timeout)
    status = head.split(b"\r\n", 1)[0]
    m = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.I)
    if not m:
        raise ConnectionError(f"no content-length in {status!r}")
    await asyncio.wait_for(r.readexactly(int(m.group(1))), timeout)
    if not status.startswith(b"HTTP/1.1 200"):
        raise ConnectionError(f"status {status!r}")


async def _tlsrate(via, target, name, cafile, mode, path, duration, concurrency, limit):
    import ssl
    ctx = ssl.create_default_context(cafile=cafile)  # the chain must lead to the run's CA, for `name`
    host = f"{name}:{target[1]}"
    deadline = time.monotonic() + duration
    ok, fail, handshakes, lats, errs = 0, 0, 0, [], {}

    async def connect():
        nonlocal handshakes
        kind, proxy = via
        if kind == "direct":
            r, w = await asyncio.wait_for(asyncio.open_connection(*target), 10)
        else:  # CONNECT name:port, so MITM proxies mint a certificate for the name
            r, w = await asyncio.wait_for(asyncio.open_connection(*proxy), 10)
            w.write(f"CONNECT {host} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 10)
            if b" 200" not in head.split(b"\r\n", 1)[0]:
                w.close()
                raise ConnectionError(f"CONNECT refused: {head[:40]!r}")
        await asyncio.wait_for(w.start_tls(ctx, server_hostname=name), 10)
        handshakes += 1
        return r, w

    async def worker():
        nonlocal ok, fail
        rw, n = None, 0
        while time.monotonic() < deadline and n < limit:
            n += 1
            t = time.monotonic()
            try:
                if rw is None:
                    rw = await connect()
                await _tls_request(*rw, host, path, close=mode == "handshake")
                if mode == "handshake":
                    rw[1].close()
                    rw = None
                ok += 1
                lats.append(time.monotonic() - t)
            except Exception as ex:
                fail += 1
                k = f"{type(ex).__name__}: {str(ex)[:60]}"
                errs[k] = errs.get(k, 0) + 1
                if rw is not None:
                    rw[1].close()
                rw = None
                await asyncio.sleep(0.01)
        if rw is not None:
            rw[1].close()

    t0 = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {"ok": ok, "fail": fail, "handshakes": handshakes, "elapsed": time.monotonic() - t0, "lats": lats,
            "errs": errs}


def _tlsrate_child(args):
    return asyncio.run(_tlsrate(*args))


def cmd_tlsrate(a):
    if a.name != "localhost":
        raise SystemExit("--name may only be localhost")
    args = (parse_via(a.via), hostport(a.target), a.name, a.cafile, a.mode, a.path, a.duration,
            max(1, a.concurrency // a.procs), 1_000_000)
    _pooled_rate(a, _tlsrate_child, args, "req", lambda parts: {"handshakes": sum(p["handshakes"] for p in parts)})


# ------------------------------------------------------------------ report
SCENARIOS = [
    ("tcp1", "1. bulk TCP, 1 stream (iperf3)", "Gbit/s", True),
    ("tcp8", "1. bulk TCP, 8 streams (iperf3 -P8)", "Gbit/s", True),
    ("http1k", "2. 1 KiB GET via forward proxy (wrk -t2 -c64)", "req/s", True),
    ("tunnels", "3. new tunnels/s (tunnel + 1 B GET)", "tunnels/s", True),
    ("mem", "4. idle tunnels, proxy warmed up (@MEM@)", "RSS KiB/tunnel", False),
    ("memfresh", "4b. idle tunnels, fresh process (@MEM@)", "RSS KiB/tunnel", False),
] + [  # scenario 5, caching MITM proxy (run.sh scenario_mitm)
    ("cachehit", "5. caching proxy: 100 MiB cache hit over plain HTTP (curl)", "MiB/s", True),
    ("mitmka", "5. MITM HTTPS 1 KiB GETs, keep-alive, 16 conns (not cached)", "req/s", True),
    ("mitmnew", "5. MITM HTTPS 1 KiB GETs, new TLS connection per request, 16 clients", "req/s", True),
    ("mitmhit", "5. MITM HTTPS: 100 MiB intercepted cache hit (curl)", "MiB/s", True),
]


# scenario 5, mTLS tunnel pairs (benchmarks/e2e/run.sh scenario_mtls): CPU and RSS are the pair's sum, with each
# process in parentheses (near end + far end: conduit A + B, stunnel client + server)
MTLS_SCENARIOS = [
    ("mtls1", "5. mTLS tunnel pair, 1 stream (iperf3)", "Gbit/s", True),
    ("mtlsconn", "5. mTLS tunnel pair, new tunnels/s (tunnel + 1 B GET)", "tunnels/s", True),
]


def fmt(v):
    if v is None:
        return "–"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}" if abs(v) < 10 else f"{v:.1f}"


def cmd_report(a):
    recs = []
    for path in a.inputs:
        with open(path) as f:
            recs += [json.loads(line) for line in f if line.strip()]
    lines = []
    lines.append("| scenario | implementation | result: median (min–max) | conduit / this | proxy CPU % (per unit) "
                 "| peak RSS MiB | load generator CPU % |")
    lines.append("|---|---|---|---|---|---|---|")
    for key, title, unit, higher_better in SCENARIOS + MTLS_SCENARIOS:
        rows = {}
        for r in recs:
            if r["scenario"] == key:
                rows.setdefault(r["row"], []).append(r)
        if not rows:
            continue
        if "@MEM@" in title:
            n = max((r.get("opened", 0) for rs in rows.values() for r in rs), default=0)
            title = title.replace("@MEM@", f"{n:,} held")
        med = {}
        for row, rs in rows.items():
            vals = [r["value"] for r in rs if "error" not in r and r.get("value") is not None]
            med[row] = statistics.median(vals) if vals else None
        conduit_vals = [v for row, v in med.items() if row.startswith("conduit") and v is not None]
        best_conduit = (max if higher_better else min)(conduit_vals) if conduit_vals else None
        first = True
        for row in sorted(rows, key=lambda r: (not r.startswith("conduit"), r != "direct", r)):
            rs = rows[row]
            good = [r for r in rs if "error" not in r and r.get("value") is not None]
            label = f"{title} [{unit}]" if first else ""
            first = False
            if not good:
                lines.append(f"| {label} | {row} | error ({rs[-1].get('error', '?')[:60]}) | – | – | – | – |")
                continue
            vals = [r["value"] for r in good]
            res = f"**{fmt(med[row])}** ({fmt(min(vals))}–{fmt(max(vals))})" if len(vals) > 1 else f"**{fmt(med[row])}**"
            if "p99_ms" in good[0]:
                res += f", p50 {statistics.median(r['p50_ms'] for r in good):.2f} / p99 {statistics.median(r['p99_ms'] for r in good):.2f} ms"
            if "heap_per_tunnel_kib" in good[0]:
                res += f", heap {statistics.median(r['heap_per_tunnel_kib'] for r in good):.1f} KiB/tunnel"
            if len(good) < len(rs):
                res += f" ({len(rs) - len(good)} run(s) failed)"
            ratio = "–"
            if best_conduit is not None and not row.startswith("conduit") and med[row]:
                ratio = f"{best_conduit / med[row]:.2f}"
            cpu = "–"
            if "cpu_pct" in good[0]:
                cpu = f"{statistics.median(r['cpu_pct'] for r in good):.0f}"
                per = [r.get("cpu_per_unit") for r in good if r.get("cpu_per_unit")]
                if per:
                    cpu += f" ({sorted(per, key=lambda s: float(s.split()[0]))[len(per) // 2]})"
                if good[0].get("cpu_pct_each"):
                    cpu += " = " + " + ".join(f"{statistics.median(r['cpu_pct_each'][i] for r in good):.0f}"
                                              for i in range(len(good[0]["cpu_pct_each"])))
            rss = statistics.median(r["peak_rss_mib"] for r in good) if "peak_rss_mib" in good[0] else None
            if rss is not None and good[0].get("peak_rss_mib_each"):
                rss_each = " (" + " + ".join(fmt(statistics.median(r["peak_rss_mib_each"][i] for r in good))
                                             for i in range(len(good[0]["peak_rss_mib_each"]))) + ")"
            else:
                rss_each = ""
            lg = [r["loadgen_cpu_pct"] for r in good if r.get("loadgen_cpu_pct") is not None]
            lines.append(f"| {label} | {row} | {res} | {ratio} | {cpu} | {fmt(rss)}{rss_each} | "
                         f"{statistics.median(lg):.0f} |" if lg else
                         f"| {label} | {row} | {res} | {ratio} | {cpu} | {fmt(rss)}{rss_each} | – |")
    measured = {r["scenario"] for r in recs}
    for title in ("5. mTLS tunnel pair vs stunnel pair", "5. caching proxy hit vs nginx",
                  "5. MITM request rate vs mitmproxy"):
        if title.startswith("5. mTLS") and measured & {key for key, *_ in MTLS_SCENARIOS}:
            continue
        if not title.startswith("5. mTLS") and measured & {"cachehit", "mitmka", "mitmnew", "mitmhit"}:
            continue
        lines.append(f"| {title} | conduit | not in this run (`-s` did not include it) | – | – | – | – |")
    table = "\n".join(lines)
    print(table)
    if a.out:
        with open(a.out, "w") as f:
            f.write(open(a.header_file).read().replace("@TABLE@", table) if a.header_file else table + "\n")


def cmd_compare(a):
    """Medians of two runs side by side, per scenario and row, with the second's change from the first."""
    def medians(path):
        rows = {}
        with open(path) as f:
            for line in f:
                if line.strip():
                    r = json.loads(line)
                    if r.get("value") is not None and not r.get("error"):
                        rows.setdefault((r["scenario"], r["row"]), []).append(r["value"])
        return {k: statistics.median(v) for k, v in rows.items()}
    first, second = medians(a.first), medians(a.second)
    lines = [f"| scenario | implementation | run A: {a.label_first} | run B: {a.label_second} | B / A |",
             "|---|---|---|---|---|"]
    for key, title, unit, _ in SCENARIOS + MTLS_SCENARIOS:
        rows = sorted({row for (k, row) in list(first) + list(second) if k == key},
                      key=lambda r: (not r.startswith("conduit"), r))
        for i, row in enumerate(rows):
            x, y = first.get((key, row)), second.get((key, row))
            change = f"{y / x:.2f}" if x and y else "–"
            label = f"{title.replace('@MEM@', 'idle tunnels')} [{unit}]" if i == 0 else ""
            lines.append(f"| {label} | {row} | {fmt(x)} | {fmt(y)} | {change} |")
    print("\n".join(lines))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--kind", choices=["iperf", "wrk", "curl"], required=True)
    m.add_argument("--expect-bytes", type=int, default=0, help="curl: the body size a good run has")
    c = sub.add_parser("connrate")
    h = sub.add_parser("hold")
    t = sub.add_parser("tlsrate")
    t.add_argument("--via", required=True)
    t.add_argument("--target", required=True)
    t.add_argument("--name", default="localhost", help="CONNECT/SNI name (only localhost)")
    t.add_argument("--cafile", required=True)
    t.add_argument("--mode", choices=["keepalive", "handshake"], required=True)
    t.add_argument("--path", default="/1k.bin")
    t.add_argument("--duration", type=float, default=5)
    t.add_argument("--concurrency", type=int, default=16)
    t.add_argument("--procs", type=int, default=2)
    for s in (m, c, h, t):
        s.add_argument("--scenario", required=True)
        s.add_argument("--row", required=True)
        s.add_argument("--run", type=int, default=1)
        s.add_argument("--pids", default="")
        s.add_argument("--out", required=True)
    m.add_argument("--timeout", type=float, default=60)
    m.add_argument("command", nargs=argparse.REMAINDER)
    for s in (c, h):
        s.add_argument("--via", required=True)
        s.add_argument("--target", required=True)
    c.add_argument("--duration", type=float, default=5)
    c.add_argument("--concurrency", type=int, default=32)
    c.add_argument("--procs", type=int, default=2)
    h.add_argument("--count", type=int, default=10000)
    h.add_argument("--parallel", type=int, default=100)
    h.add_argument("--open-timeout", type=float, default=60)
    h.add_argument("--settle", type=float, default=2)
    h.add_argument("--jvm-pid", type=int, default=0)
    r = sub.add_parser("report")
    r.add_argument("inputs", nargs="+")
    r.add_argument("--header-file", help="a file whose text has @TABLE@ where the table goes")
    r.add_argument("--out")
    cmp = sub.add_parser("compare", help="two runs' medians side by side (reproducibility)")
    cmp.add_argument("first")
    cmp.add_argument("second")
    cmp.add_argument("--label-first", default="A")
    cmp.add_argument("--label-second", default="B")
    a = p.parse_args()
    if a.cmd == "measure":
        if a.command and a.command[0] == "--":
            a.command = a.command[1:]
        cmd_measure(a)
    elif a.cmd == "connrate":
        cmd_connrate(a)
    elif a.cmd == "hold":
        cmd_hold(a)
    elif a.cmd == "tlsrate":
        cmd_tlsrate(a)
    elif a.cmd == "compare":
        cmd_compare(a)
    else:
        cmd_report(a)


if __name__ == "__main__":
    main()
