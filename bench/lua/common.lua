-- Shared by every scenario. Script arguments (after `--`): token, tag, path count.
-- Each thread gets an id (for unique write paths and its own random seed); the run ends with
-- one `BENCH_JSON {...}` line: exact counts, errors and percentiles in microseconds.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("id", #threads)
end

function bench_init(args)
   token = args[1]
   tag = args[2] or "t"
   paths = tonumber(args[3]) or 10000
   counter = 0
   wrk.headers["X-Vault-Token"] = token
   wrk.headers["Content-Type"] = "application/json"
   math.randomseed(os.time() + 7919 * (id or 0))
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, latency.mean))
end
