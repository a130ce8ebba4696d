-- publish.lua: append a batch of alarms to the log and broadcast them,
-- atomically, in order. One call carries 1..n alarms, so what every call
-- pays (the script call, the re-run check, the clock, the epoch, the
-- log's newest id, the age trim, the broadcast) is paid once per batch.
-- log.lua's and inbox.lua's functions are prepended (see publish.go).
-- KEYS[1] stream, KEYS[2] epoch, KEYS[3] this call's token record,
-- KEYS[4] the token record of the call before this one in its pipeline
-- (KEYS[3] again for the first call of a pipeline); then five keys per
-- alarm i (0-based), at 5+5i: its idempotency record (a
-- never-written placeholder in the same slot when it has no idempotency
-- key), its channel's list, and its inbox's ix, ib and se (inbox.lua;
-- used only for an inbox alarm).
-- ARGV[1] epoch candidate, ARGV[2] MAXLEN, ARGV[3] retention in ms (0 =
-- off), ARGV[4] idempotency TTL in ms, ARGV[5] live Pub/Sub channel,
-- ARGV[6] channel backlog depth, ARGV[7] TTL of the token record in ms,
-- ARGV[8] "1" to broadcast with SPUBLISH (sharded Pub/Sub) instead of
-- PUBLISH, ARGV[9] inbox retention in ms (0 = off); then six per alarm,
-- at 10+6i: channel, frame tail, "1" if it has an idempotency key, hash
-- of the tail (kept in the idempotency record; "" without a key), "1" for
-- an inbox alarm (a user:* channel with a backlog: its counts are kept
-- and shown in the frame), and the caller's deadline in unix ms (0 =
-- none).
-- Returns "<epoch>\n<id> <flag>\n..." with one line per alarm: flag 0
-- appended, 1 replayed (idempotency key seen with the same alarm; id is
-- the earlier one), 2 refused (key seen with another alarm; id is the
-- alarm it was first used for), 3 refused because the alarm reached Redis
-- after its caller's deadline (id 0-0). Every refusal and replay is
-- decided before the first write, and nothing is written for a refused
-- alarm: a call that refuses all of its alarms writes nothing at all. A
-- re-run of the same call (go-redis re-sends a command whose reply was
-- lost) finds its token record and returns the first answer.
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
local n = (#ARGV - 9) / 6
local maxlen, retention, depth, iret = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[6]), tonumber(ARGV[9])
local now = nil -- Redis' clock in unix ms, read once, when a deadline asks

-- Decide, reading only: fate[i] is nil for an alarm to append, its reply
-- line when refused or replayed, or {j, flag} when it repeats the
-- idempotency key of alarm j of this call (its id is known once written).
local fate, claimed, appends = {}, {}, false
for i = 0, n - 1 do
  local k, a = 5 + 5 * i, 10 + 6 * i
  local deadline = tonumber(ARGV[a + 5])
  if deadline > 0 then
    now = now or redis_ms()
    if now > deadline then fate[i] = '0-0 3' end
  end
  if not fate[i] and ARGV[a + 2] == '1' then
    local idem, hash = KEYS[k], ARGV[a + 3]
    local c = claimed[idem]
    if c then
      fate[i] = {c[1], c[2] == hash and ' 1' or ' 2'}
    else
      local rec = redis.call('GET', idem)
      if rec then
        local nl = string.find(rec, '\n', 1, true)
        if not nl then
          fate[i] = rec .. ' 1' -- a record from before hashes were kept
        elseif string.sub(rec, nl + 1) ~= hash then
          fate[i] = string.sub(rec, 1, nl - 1) .. ' 2'
        else
          fate[i] = string.sub(rec, 1, nl - 1) .. ' 1'
        end
      else
        claimed[idem] = {i, hash}
      end
    end
  end
  appends = appends or not fate[i]
end
local epoch = redis.call('GET', KEYS[2])
if not epoch then
  epoch = ARGV[1]
  local replays = false
  for i = 0, n - 1 do
    replays = replays or (type(fate[i]) == 'string' and string.sub(fate[i], -1) == '1')
  end
  if not appends and not replays then
    -- Everything refused: write nothing, not even the epoch.
    local out = {epoch}
    for i = 0, n - 1 do out[#out + 1] = fate[i] end
    return table.concat(out, '\n')
  end
  redis.call('SET', KEYS[2], epoch)
end

-- Write.
local pred, ms = nil, nil
local first, frames = nil, {} -- the first alarm's predecessor, the alarms' frames
local ids = {}
local ttl = {} -- key -> TTL in ms of the lists and inbox keys written
local cutoff, aged = false, {} -- inbox retention's cutoff (read once); inboxes trimmed by age
for i = 0, n - 1 do
  if not fate[i] then
    local k, a = 5 + 5 * i, 10 + 6 * i
    local channel, tail, hash = ARGV[a], ARGV[a + 1], ARGV[a + 3]
    local ch, ix, ib, se = KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 4]
    local inbox = ARGV[a + 4] == '1'
    if inbox then -- trim first, so the frame shows the counts after it
      if cutoff == false then cutoff = inbox_cutoff(iret, now) end
      inbox_trim(ch, ix, ib, depth, 1, not aged[ch] and cutoff or nil)
      aged[ch] = true
      local unread, unseen = inbox_counts(ix)
      tail = string.sub(tail, 1, -2) .. inbox_counts_json(unread + 1, unseen + 1) .. '}'
    end
    pred = pred or log_newest(KEYS[1])
    local id
    id, ms = log_append(KEYS[1], maxlen, channel, tail, pred)
    if ARGV[a + 2] == '1' then
      redis.call('SET', KEYS[k], id .. '\n' .. hash, 'PX', ARGV[4])
    end
    if inbox then
      inbox_push(ch, ix, ib, iret, id, ms, tail)
      ttl[ch], ttl[ix], ttl[ib], ttl[se] = iret, iret, iret, iret
    elseif depth > 0 then
      chan_push(ch, depth, retention, id, ms, tail)
      ttl[ch] = retention
    end
    first = first or pred
    frames[#frames + 1] = log_frame('alarm', id, ms, tail)
    pred = id
    ids[i] = id
  end
end
local out = {epoch}
for i = 0, n - 1 do
  local f = fate[i]
  if not f then
    f = ids[i] .. ' 0'
  elseif type(f) == 'table' then
    f = ids[f[1]] .. f[2]
  end
  out[#out + 1] = f
end
local reply = table.concat(out, '\n')
if ms then
  log_trim(KEYS[1], retention, ms)
  broadcast(ARGV[8], ARGV[5], epoch, first, frames) -- one message for the call
  for key, t in pairs(ttl) do
    expire_after(key, t, ms) -- ms: the newest id's, at or after each key's own
  end
  redis.call('SET', KEYS[3], reply, 'PX', ARGV[7])
end
return reply
