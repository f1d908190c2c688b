-- transit/encrypt/bench of 32 bytes (base64), aes256-gcm96 key created before the run.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function init(args)
   bench_init(args)
   req = wrk.format("POST", "/v1/transit/encrypt/bench", nil,
                    '{"plaintext":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}')
end

function request()
   return req
end
