-- wrk script: POST the body in $BODY_FILE (Content-Type from $CONTENT_TYPE, default JSON) to the URL.
-- Prints one line at the end: WRKCSV,<rps>,<p50_ms>,<p90_ms>,<p99_ms>,<errors>,<requests>
local f = assert(io.open(assert(os.getenv("BODY_FILE"), "set BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = os.getenv("CONTENT_TYPE") or "application/json"
-- optional "Name: value" header (the V2 binary extension's Inference-Header-Content-Length)
local extra = os.getenv("EXTRA_HEADER")
if extra then
  local name, value = extra:match("^([^:]+):%s*(.*)$")
  wrk.headers[name] = value
end

function done(summary, latency, requests)
  local e = summary.errors
  local errors = e.status + e.connect + e.read + e.write + e.timeout
  io.write(string.format("WRKCSV,%.1f,%.3f,%.3f,%.3f,%d,%d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    errors, summary.requests))
end
