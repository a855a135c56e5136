-- Shared by every scenario: at the end, print one JSON object on stdout.
-- wrk counts a response with status > 399 in errors.status; POST scenarios also
-- count every non-2xx themselves (see post.lua) and pass it in `non2xx_exact`.
function report(summary, latency, extra)
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_s":%.3f,"rps":%.1f,' ..
    '"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"mean_ms":%.3f,' ..
    '"status_errors":%d,"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d}%s}\n',
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3,
    latency:percentile(99) / 1e3, latency.max / 1e3, latency.mean / 1e3,
    e.status, e.connect, e.read, e.write, e.timeout, extra or ""))
end

-- Scenarios may replace this.
function done(summary, latency, requests)
  report(summary, latency)
end
