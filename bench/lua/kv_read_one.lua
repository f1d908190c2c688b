-- KV v2 read of one path, written before the run.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function init(args)
   bench_init(args)
   req = wrk.format("GET", "/v1/secret/data/bench/one")
end

function request()
   return req
end
