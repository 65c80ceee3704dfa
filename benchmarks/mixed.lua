-- wrk script: cycle through the requests listed in $MIX_FILE, one "PATH<TAB>BODY_FILE" per line.
-- Prints WRKCSV,<rps>,<p50_ms>,<p90_ms>,<p99_ms>,<errors>,<requests>,<non2xx>
local requests = {}
local index = 0

function init(args)
  local mix = os.getenv("MIX_FILE")
  assert(mix, "set MIX_FILE")
  for line in io.lines(mix) do
    local path, file = line:match("^(%S+)\t(.+)$")
    local f = assert(io.open(file, "rb"))
    local body = f:read("*a")
    f:close()
    table.insert(requests, wrk.format("POST", path, {["Content-Type"] = "application/json"}, body))
  end
end

function request()
  index = index % #requests + 1
  return requests[index]
end

function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format("WRKCSV,%.1f,%.3f,%.3f,%.3f,%d,%d,%d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    e.status + e.connect + e.read + e.write + e.timeout, summary.requests, e.status))
end
