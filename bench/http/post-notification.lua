-- SPDX-License-Identifier: MIT
-- wrk: POST to /send-notification/x@example.com (or the path given after `--`) on every
-- keep-alive connection, then print one WRKRESULT line that bench/http/run.sh parses.
local path = "/send-notification/x@example.com"

function init(args)
  if args[1] then path = args[1] end
end

function request()
  return wrk.format("POST", path)
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local errors = summary.errors
  print(string.format("WRKRESULT requests=%d rps=%.1f p50_ms=%.3f p99_ms=%.3f non2xx=%d " ..
      "socket_errors=%d", summary.requests, summary.requests / seconds,
      latency:percentile(50) / 1000, latency:percentile(99) / 1000, errors.status,
      errors.connect + errors.read + errors.write + errors.timeout))
end
