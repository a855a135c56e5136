-- wrk script of scripts/test/load.sh: classifies every answer. ok = 200; shed = 503
-- application/problem+json with Retry-After; bad = anything else. Prints one line:
-- "checked: ok=N shed=N bad=N socket_errors=N requests_per_s=X".
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  ok, shed, bad = 0, 0, 0
end

function response(status, headers, body)
  if status == 200 then
    ok = ok + 1
  elseif status == 503 and headers["content-type"] == "application/problem+json"
      and headers["retry-after"] ~= nil and string.find(body, '"status":503', 1, true) then
    shed = shed + 1
  else
    bad = bad + 1
    if bad <= 3 then
      io.stderr:write(string.format("unexpected answer %d: %s\n", status, string.sub(body, 1, 200)))
    end
  end
end

function done(summary, latency, requests)
  local o, s, b = 0, 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok")
    s = s + t:get("shed")
    b = b + t:get("bad")
  end
  local e = summary.errors
  io.write(string.format("checked: ok=%d shed=%d bad=%d socket_errors=%d requests_per_s=%.1f\n",
    o, s, b, e.connect + e.read + e.write + e.timeout, summary.requests / (summary.duration / 1e6)))
end
