-- wrk script for the e2e harness: optional request-target (absolute-form for a forward proxy) and
-- Host header, and one JSON line with the counters and latency percentiles at the end.
--   wrk ... -s wrk-report.lua http://PROXY/ -- http://127.0.0.1:28080/1k.bin 127.0.0.1:28080
function init(args)
  if args[1] then wrk.path = args[1] end
  if args[2] then wrk.headers["Host"] = args[2] end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'E2EJSON {"requests":%d,"duration_us":%d,"bytes":%d,"err_connect":%d,"err_read":%d,' ..
    '"err_write":%d,"err_status":%d,"err_timeout":%d,"lat_p50_us":%d,"lat_p99_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(99)))
end
