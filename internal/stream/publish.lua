-- publish.lua: append one alarm to the log and broadcast it, atomically.
-- KEYS[1] stream, KEYS[2] epoch, KEYS[3] idempotency record (a never-written
--         placeholder in the same slot when there is no idempotency key),
-- KEYS[4] the channel's history, KEYS[5] this request's token record.
-- ARGV[1] channel, ARGV[2] frame tail, ARGV[3] epoch candidate,
-- ARGV[4] MAXLEN, ARGV[5] retention in ms (0 = off), ARGV[6] idempotency
-- TTL in ms, ARGV[7] live Pub/Sub channel, ARGV[8] "1" if KEYS[3] is a real
-- idempotency record, ARGV[9] channel history depth, ARGV[10] the caller's
-- deadline in unix ms (0 = none), ARGV[11] hash of the tail (kept in the
-- idempotency record), ARGV[12] TTL of the token record in ms, ARGV[13]
-- "1" to broadcast with SPUBLISH (sharded Pub/Sub) instead of PUBLISH,
-- ARGV[14] "1" for an inbox alarm (a user:* channel with a history): KEYS[6] is
-- then its inbox state (inbox.lua), counted and shown in the frame.
-- Returns {id, epoch, flag}: flag 0 appended, 1 replayed (idempotency
-- key seen with the same alarm), 2 refused (key seen with another alarm,
-- nothing written). A re-run of the same request (go-redis re-sends a
-- command whose reply was lost) finds its token record and returns the
-- first run's answer. Past its deadline it writes nothing and fails with
-- DEADLINE.
local done = redis.call('GET', KEYS[5])
if done then
  return {done, redis.call('GET', KEYS[2]) or '', 0}
end
if past(ARGV[10]) then
  return redis.error_reply('DEADLINE the publish reached Redis after its deadline; nothing was written')
end
local epoch = redis.call('GET', KEYS[2])
if not epoch then
  epoch = ARGV[3]
  redis.call('SET', KEYS[2], epoch)
end
local idem = ARGV[8] == '1'
if idem then
  local rec = redis.call('GET', KEYS[3])
  if rec then
    local nl = string.find(rec, '\n', 1, true)
    if not nl then
      return {rec, epoch, 1} -- a record from before hashes were kept
    end
    local prev = string.sub(rec, 1, nl - 1)
    if string.sub(rec, nl + 1) ~= ARGV[11] then
      return {prev, epoch, 2}
    end
    return {prev, epoch, 1}
  end
end
local tail = ARGV[2]
if ARGV[14] == '1' then -- inbox: trim first, so the frame shows the counts after it
  inbox_trim(KEYS[4], KEYS[6], tonumber(ARGV[9]))
  inbox_count(KEYS[6], nil, 0)
  tail = string.sub(tail, 1, -2) .. inbox_counts(KEYS[6]) .. '}'
end
local retention = tonumber(ARGV[5])
local id, ms, pred = log_append(KEYS[1], ARGV[4], retention, ARGV[1], tail)
if ARGV[14] == '1' then
  redis.call('HSET', KEYS[6], id, 0)
  if tonumber(ARGV[5]) > 0 then redis.call('PEXPIRE', KEYS[6], ARGV[5]) end
end
if idem then
  redis.call('SET', KEYS[3], id .. '\n' .. ARGV[11], 'PX', ARGV[6])
end
redis.call('SET', KEYS[5], id, 'PX', ARGV[12])
-- The channel's history: a list whose first element is its floor (the
-- highest id that may be missing from it), then "<id>\n<tail>" oldest first.
local depth = tonumber(ARGV[9])
if depth > 0 then
  local len = redis.call('RPUSH', KEYS[4], id .. '\n' .. tail)
  if len == 1 then
    -- A new list, or one that expired when idle: whatever it held was
    -- published more than the retention ago.
    local floor = '0-0'
    if retention > 0 and tonumber(ms) > retention then
      floor = string.format('%.0f', tonumber(ms) - retention) .. '-18446744073709551615'
    end
    len = redis.call('LPUSH', KEYS[4], floor)
  elseif len > depth + 1 then
    local dropped = redis.call('LPOP', KEYS[4], len - depth)
    local last = dropped[#dropped]
    redis.call('LPUSH', KEYS[4], string.sub(last, 1, string.find(last, '\n', 1, true) - 1))
  end
  if retention > 0 then
    redis.call('PEXPIRE', KEYS[4], retention)
  end
end
broadcast(ARGV[13], ARGV[7], epoch .. '\n' .. pred .. '\n{"type":"alarm","id":"' .. id .. '","ts":' .. ms .. tail)
return {id, epoch, 0}
