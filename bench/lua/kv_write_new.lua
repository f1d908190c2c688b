-- KV v2 write of a path never written before: tag (one per run and point) / thread id / counter.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function init(args)
   bench_init(args)
   prefix = "/v1/secret/data/w/" .. tag .. "/" .. id .. "/"
end

function request()
   counter = counter + 1
   return wrk.format("POST", prefix .. counter, nil,
                     '{"data":{"value":"new-secret-value-0123456789abcdef-' .. counter .. '"}}')
end
