-- publish.lua: append a batch of alarms to the log and broadcast them,
-- atomically, in order. One call carries 1..n alarms, so what every call
-- pays (the script call, the re-run check, the clock, the epoch, the
-- log's newest id, the age trim, the broadcast) is paid once per batch.
-- KEYS[1] stream, KEYS[2] epoch, KEYS[3] this call's token record,
-- KEYS[4] the token record of the call before this one in its pipeline
-- (KEYS[3] again for the first call of a pipeline); then three keys per
-- alarm i (0-based), at 5+3i: its idempotency record (a
-- never-written placeholder in the same slot when it has no idempotency
-- key), its channel's backlog, and its channel's inbox state (inbox.lua;
-- used only for an inbox alarm).
-- ARGV[1] epoch candidate, ARGV[2] MAXLEN, ARGV[3] retention in ms (0 =
-- off), ARGV[4] idempotency TTL in ms, ARGV[5] live Pub/Sub channel,
-- ARGV[6] channel backlog depth, ARGV[7] TTL of the token record in ms,
-- ARGV[8] "1" to broadcast with SPUBLISH (sharded Pub/Sub) instead of
-- PUBLISH; then six per alarm, at 9+6i: channel, frame tail, "1" if it
-- has an idempotency key, hash of the tail (kept in the idempotency
-- record; "" without a key), "1" for an inbox alarm (a user:* channel
-- with a backlog: its counts are kept and shown in the frame), and the
-- caller's deadline in unix ms (0 = none).
-- Returns "<epoch>\n<id> <flag>\n..." with one line per alarm: flag 0
-- appended, 1 replayed (idempotency key seen with the same alarm; id is
-- the earlier one), 2 refused (key seen with another alarm; id is the
-- alarm it was first used for), 3 refused because the alarm reached Redis
-- after its caller's deadline (id 0-0). Nothing is written for a refused
-- alarm. A re-run of the same call (go-redis re-sends a command whose
-- reply was lost) finds its token record and returns the first answer.
-- A call whose predecessor did not run (it failed, or met NOSCRIPT after
-- Redis lost its script cache) writes nothing and fails with NOTRUN: it
-- would otherwise append its alarms before the predecessor's, which a
-- retry appends later.
local done = redis.call('GET', KEYS[3])
if done then
  return done
end
if KEYS[4] ~= KEYS[3] and redis.call('EXISTS', KEYS[4]) == 0 then
  return redis.error_reply('NOTRUN the call before this one in its pipeline did not run')
end
local n = (#ARGV - 8) / 6
local now = nil -- Redis' clock in unix ms, read once, when a deadline asks
local epoch = redis.call('GET', KEYS[2])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[2], epoch)
end
local maxlen, retention, depth = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[6])
local pred, ms = nil, nil
local first, frames = nil, {} -- the first alarm's predecessor, the alarms' frames
local out = {epoch}
local ttl = {} -- the backlogs and inbox states written: their TTL restarts
for i = 0, n - 1 do
  local k, a = 5 + 3 * i, 9 + 6 * i
  local channel, tail, hash, deadline = ARGV[a], ARGV[a + 1], ARGV[a + 3], tonumber(ARGV[a + 5])
  local idem, inbox = KEYS[k], ARGV[a + 4] == '1'
  local line = nil
  if deadline > 0 then
    now = now or redis_ms()
    if now > deadline then line = '0-0 3' end
  end
  if not line and ARGV[a + 2] == '1' then
    local rec = redis.call('GET', idem)
    if rec then
      local nl = string.find(rec, '\n', 1, true)
      if not nl then
        line = rec .. ' 1' -- a record from before hashes were kept
      elseif string.sub(rec, nl + 1) ~= hash then
        line = string.sub(rec, 1, nl - 1) .. ' 2'
      else
        line = string.sub(rec, 1, nl - 1) .. ' 1'
      end
    end
  end
  if not line then
    local hist, st = KEYS[k + 1], KEYS[k + 2]
    if inbox then -- trim first, so the frame shows the counts after it
      inbox_trim(hist, st, depth)
      inbox_count(st, nil, 0)
      tail = string.sub(tail, 1, -2) .. inbox_counts(inbox_get(st)) .. '}'
    end
    pred = pred or log_newest(KEYS[1])
    local id
    id, ms = log_append(KEYS[1], maxlen, channel, tail, pred)
    if inbox then
      redis.call('HSET', st, id, 0)
      ttl[st] = true
    end
    if ARGV[a + 2] == '1' then
      redis.call('SET', idem, id .. '\n' .. hash, 'PX', ARGV[4])
    end
    chan_push(hist, depth, retention, id, ms, tail)
    if depth > 0 then ttl[hist] = true end
    first = first or pred
    frames[#frames + 1] = log_frame('alarm', id, ms, tail)
    pred = id
    line = id .. ' 0'
  end
  out[#out + 1] = line
end
if ms then
  log_trim(KEYS[1], retention, ms)
  broadcast(ARGV[8], ARGV[5], epoch, first, frames) -- one message for the call
end
if retention > 0 then
  for key in pairs(ttl) do
    redis.call('PEXPIRE', key, retention)
  end
end
local reply = table.concat(out, '\n')
redis.call('SET', KEYS[3], reply, 'PX', ARGV[7])
return reply
