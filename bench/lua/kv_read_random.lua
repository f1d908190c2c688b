-- KV v2 read of a random path among `paths` written before the run (secret/r/0 .. r/<paths-1>).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function init(args)
   bench_init(args)
end

function request()
   return wrk.format("GET", "/v1/secret/data/r/" .. math.random(0, paths - 1))
end
