-- POST /api/tasks with a small JSON body; counts every non-2xx response exactly
-- (wrk itself only counts status > 399).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"title":"bench task","description":"created by bench/lua/post.lua"}'

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  non2xx = 0
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

dofile(os.getenv("BENCH_LUA") .. "/report.lua")

function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do
    n = n + t:get("non2xx")
  end
  report(summary, latency, string.format(',"non2xx_exact":%d', n))
end
