-- GET /api/tasks/{id}, ids spread at random over the seeded range 1..$TASKS.
local tasks = tonumber(os.getenv("TASKS") or "10000")
local counter = 0
local reqs = {}
local i = 0

function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end

function init(args)
  -- A ring of pre-formatted requests keeps wrk's own work per request small.
  math.randomseed(seed)
  for k = 1, 4096 do
    reqs[k] = wrk.format("GET", "/api/tasks/" .. math.random(1, tasks))
  end
end

function request()
  i = i % #reqs + 1
  return reqs[i]
end

dofile(os.getenv("BENCH_LUA") .. "/report.lua")
