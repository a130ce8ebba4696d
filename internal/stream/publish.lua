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
redis.call('PUBLISH', ARGV[7], epoch .. '\n{"type":"alarm","id":"' .. id .. '","ts":' .. ms .. ARGV[2])
return {id, epoch, 0}
