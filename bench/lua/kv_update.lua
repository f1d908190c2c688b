-- KV v2 write of a new version of a random existing path among the `paths` written before the run.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function init(args)
   bench_init(args)
end

function request()
   counter = counter + 1
   return wrk.format("POST", "/v1/secret/data/r/" .. math.random(0, paths - 1), nil,
                     '{"data":{"value":"updated-value-0123456789abcdef-' .. id .. "-" .. counter .. '"}}')
end
