-- The soak's mixed load (bench/soak.py). Script arguments: token, tag, path count, delay in ms.
-- Per request: 60% KV v2 read of a random path, 15% update of a random path, 10% write of a new
-- path, 10% auth/token/lookup-self, 5% token creation (an orphan with a 2-minute TTL).
-- `delay` paces each connection so that the run holds a chosen rate instead of the peak.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function init(args)
   bench_init(args)
   pause = tonumber(args[4]) or 0
end

function delay()
   return pause
end

function request()
   counter = counter + 1
   local pick = math.random(1, 100)
   if pick <= 60 then
      return wrk.format("GET", "/v1/secret/data/r/" .. math.random(0, paths - 1))
   elseif pick <= 75 then
      return wrk.format("POST", "/v1/secret/data/r/" .. math.random(0, paths - 1), nil,
                        '{"data":{"value":"soak-update-' .. id .. "-" .. counter .. '"}}')
   elseif pick <= 85 then
      return wrk.format("POST", "/v1/secret/data/soak/" .. tag .. "/" .. id .. "/" .. counter, nil,
                        '{"data":{"value":"soak-new-' .. id .. "-" .. counter .. '"}}')
   elseif pick <= 95 then
      return wrk.format("GET", "/v1/auth/token/lookup-self")
   else
      return wrk.format("POST", "/v1/auth/token/create-orphan", nil, '{"ttl":"2m","policies":["default"]}')
   end
end
