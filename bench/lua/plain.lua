-- A plain GET of the URL given to wrk; only the JSON report is added.
dofile(os.getenv("BENCH_LUA") .. "/report.lua")
