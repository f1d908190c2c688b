-- sys/seal-status: unauthenticated, outside the barrier.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function init(args)
   bench_init(args)
   req = wrk.format("GET", "/v1/sys/seal-status")
end

function request()
   return req
end
