-- wrk script: POSTs pre-signed webhook bodies to /webhook, one distinct body per request.
--
-- Environment:
--   WEBHOOK_BODIES  file written by webhooks.py (KEY TAB SIGNATURE TAB BODY per line)
--   WEBHOOK_THREADS the -t given to wrk; above 1, thread N reads WEBHOOK_BODIES.N
--   WEBHOOK_ACKED   optional: thread N appends "KEY TAB SIGNATURE" of every request answered
--                   200 to WEBHOOK_ACKED.N. This needs one connection per thread (-t N -c N):
--                   a connection has one request in flight, so the answer belongs to the
--                   request that thread made last.
--   WEBHOOK_DONE    optional: a file created when the bodies run out. The thread then stops,
--                   but wrk itself waits for its -d to pass: the calling script watches for
--                   this file and ends wrk with SIGINT.
--
-- `done` prints one RESULT line for the script that runs wrk.

local threads = {}
local counter = 0

function setup(thread)
   thread:set("id", counter)
   table.insert(threads, thread)
   counter = counter + 1
end

local bodies, acked, current, last
-- Globals, so that `done` can read them from each thread with thread:get.
sent, ok, unavailable, other, exhausted = 0, 0, 0, 0, 0

function init(args)
   local path = os.getenv("WEBHOOK_BODIES")
   assert(path and path ~= "", "set WEBHOOK_BODIES to a file written by webhooks.py")
   if tonumber(os.getenv("WEBHOOK_THREADS") or "1") > 1 then path = path .. "." .. id end
   bodies = assert(io.open(path, "r"))
   local ackedPath = os.getenv("WEBHOOK_ACKED")
   if ackedPath and ackedPath ~= "" then
      acked = assert(io.open(ackedPath .. "." .. id, "w"))
      acked:setvbuf("line")
   end
end

function request()
   local line = bodies:read("*l")
   if line == nil then
      -- Out of bodies: resend nothing new; stop this thread.
      if exhausted == 0 then
         local marker = os.getenv("WEBHOOK_DONE")
         if marker and marker ~= "" then assert(io.open(marker, "w")):close() end
      end
      exhausted = 1
      wrk.thread:stop()
      current = nil
      return last
   end
   local key, signature, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
   current = key .. "\t" .. signature
   sent = sent + 1
   last = wrk.format("POST", "/webhook", {
      ["Content-Type"] = "application/json",
      ["X-Hub-Signature-256"] = signature,
   }, body)
   return last
end

function response(status, headers, body)
   if status == 200 then
      ok = ok + 1
      -- With one connection per thread the answer belongs to the last request made.
      if acked and current then acked:write(current, "\n") end
   elseif status == 503 then
      unavailable = unavailable + 1
   else
      other = other + 1
   end
   current = nil
end

function done(summary, latency, requests)
   local total = { sent = 0, ok = 0, unavailable = 0, other = 0, exhausted = 0 }
   for _, thread in ipairs(threads) do
      for name, _ in pairs(total) do
         total[name] = total[name] + (thread:get(name) or 0)
      end
   end
   local seconds = summary.duration / 1e6
   io.write(string.format(
      "RESULT seconds=%.2f requests=%d rps=%.0f sent=%d ok=%d unavailable=%d other=%d " ..
      "connect_errors=%d read_errors=%d write_errors=%d timeouts=%d " ..
      "p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f exhausted=%d\n",
      seconds, summary.requests, summary.requests / seconds, total.sent, total.ok, total.unavailable, total.other,
      summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout,
      latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
      latency.max / 1000, total.exhausted))
end
