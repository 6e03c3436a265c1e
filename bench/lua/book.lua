-- POST /sessions/sessions with a bearer token and a unique, bookable body per request.
-- Each wrk thread books its own therapists in non-overlapping 61-minute slots, for clients
-- taken in turn from a pool that holds consent. Settings come from the environment.
local counter = 0
local threads = {}
local token = os.getenv("BENCH_TOKEN")
local path = os.getenv("BENCH_PATH") or "/sessions/sessions"
local location = os.getenv("BENCH_LOCATION")
local base = tonumber(os.getenv("BENCH_BASE_EPOCH"))

local function split(s)
  local out = {}
  for item in string.gmatch(s or "", "[^,]+") do out[#out + 1] = item end
  return out
end

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  therapists = split(os.getenv("BENCH_THERAPISTS"))
  clients = split(os.getenv("BENCH_CLIENTS"))
  nthreads = tonumber(os.getenv("BENCH_THREADS"))
  per = math.floor(#therapists / nthreads)
  wrk.headers["Authorization"] = "Bearer " .. token
  wrk.headers["Content-Type"] = "application/json"
end

request = function()
  counter = counter + 1
  local therapist = therapists[tid * per + (counter % per) + 1]
  local slot = math.floor(counter / per)
  local client = clients[(counter * nthreads + tid) % #clients + 1]
  local starts = os.date("!%Y-%m-%dT%H:%M:%SZ", base + slot * 3660)
  local body = string.format(
    '{"client_id":"%s","therapist_id":"%s","location_id":"%s","starts_at":"%s",' ..
    '"duration_minutes":60,"technique":"swedish","areas":["shoulders","neck"]}',
    client, therapist, location, starts)
  return wrk.format("POST", path, nil, body)
end

done = function(summary, latency, requests)
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"non2xx":%d,"socket_errors":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
