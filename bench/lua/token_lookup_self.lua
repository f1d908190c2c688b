-- auth/token/lookup-self with the root token.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function init(args)
   bench_init(args)
   req = wrk.format("GET", "/v1/auth/token/lookup-self")
end

function request()
   return req
end
