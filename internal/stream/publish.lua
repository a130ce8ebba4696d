-- publish.lua: append one alarm to the log and broadcast it, atomically.
-- KEYS[1] stream, KEYS[2] epoch, KEYS[3] idempotency record (a never-written
--         placeholder in the same slot when there is no idempotency key)
-- ARGV[1] channel, ARGV[2] frame tail, ARGV[3] epoch candidate,
-- ARGV[4] MAXLEN, ARGV[5] retention in ms (0 = off), ARGV[6] idempotency
-- TTL in ms, ARGV[7] live Pub/Sub channel, ARGV[8] "1" if KEYS[3] is a real
-- idempotency record.
-- Returns {id, epoch, replayed (0 or 1)}.
local epoch = redis.call('GET', KEYS[2])
if not epoch then
  epoch = ARGV[3]
  redis.call('SET', KEYS[2], epoch)
end
local idem = ARGV[8] == '1'
if idem then
  local prev = redis.call('GET', KEYS[3])
  if prev then
    return {prev, epoch, 1}
  end
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], '*', 'c', ARGV[1], 't', ARGV[2])
local ms = string.sub(id, 1, string.find(id, '-', 1, true) - 1)
local retention = tonumber(ARGV[5])
if retention > 0 then
  local minid = tonumber(ms) - retention
  if minid > 0 then
    redis.call('XTRIM', KEYS[1], 'MINID', '~', string.format('%.0f', minid))
  end
end
if idem then
  redis.call('SET', KEYS[3], id, 'PX', ARGV[6])
end
-- The channel's history: a list whose first element is its floor (the
-- highest id that may be missing from it), then "<id>\n<tail>" oldest first.
local depth = tonumber(ARGV[9])
if depth > 0 then
  local len = redis.call('RPUSH', KEYS[4], id .. '\n' .. ARGV[2])
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
redis.call('PUBLISH', ARGV[7], epoch .. '\n{"type":"alarm","id":"' .. id .. '","ts":' .. ms .. ARGV[2])
return {id, epoch, 0}
