-- state.lua: change the state of inbox alarms and, when anything changed,
-- append the change to the log as a state event on the user's channel,
-- atomically. inbox.lua's functions are prepended (see inbox.go).
-- KEYS[1] stream, KEYS[2] epoch, KEYS[3] the channel's backlog, KEYS[4]
-- its inbox state, KEYS[5] this request's token record.
-- ARGV[1] channel, ARGV[2] op (seen, read, unread, archive, unarchive),
-- ARGV[3] up_to as "<ms>-<seq>" ("" when ids are given), ARGV[4] MAXLEN,
-- ARGV[5] retention in ms (0 = off), ARGV[6] live Pub/Sub channel,
-- ARGV[7] channel backlog depth, ARGV[8] the caller's deadline in unix ms
-- (0 = none), ARGV[9] TTL of the token record in ms, ARGV[10] "1" to
-- broadcast with SPUBLISH (sharded Pub/Sub), ARGV[11..] ids.
-- Returns {id, epoch, unread, unseen, changed}: id "" when nothing changed
-- (nothing is appended: repeating a change is harmless). A re-run of the
-- same request finds its token record and answers as the first run did.
local done = redis.call('GET', KEYS[5])
if done then
  local unread, unseen = inbox_get(KEYS[4])
  return {done, redis.call('GET', KEYS[2]) or '', unread, unseen, -1}
end
if past(ARGV[8]) then
  return redis.error_reply('DEADLINE the state change reached Redis after its deadline; nothing was written')
end
local epoch = redis.call('GET', KEYS[2]) or ''
local op = ARGV[2]
local function has(b, k) return math.floor(b / k) % 2 == 1 end
local function apply(b) -- no bit library: miniredis has none
  if op == 'seen' then return has(b, 1) and b or b + 1
  elseif op == 'read' then return b + (has(b, 1) and 0 or 1) + (has(b, 2) and 0 or 2)
  elseif op == 'unread' then return has(b, 2) and b - 2 or b
  elseif op == 'archive' then return has(b, 4) and b or b + 4
  end
  return has(b, 4) and b - 4 or b -- unarchive
end
local function change(id, old)
  local new = apply(old)
  if new == old then return false end
  redis.call('HSET', KEYS[4], id, new)
  inbox_count(KEYS[4], old, new)
  return true
end
local changed, upto = {}, nil
if ARGV[3] == '' then
  for i = 11, #ARGV do
    local b = redis.call('HGET', KEYS[4], ARGV[i])
    if b and change(ARGV[i], tonumber(b)) then
      changed[#changed + 1] = ARGV[i]
    end
  end
else
  local dash = string.find(ARGV[3], '-', 1, true)
  local xms, xseq = tonumber(string.sub(ARGV[3], 1, dash - 1)), tonumber(string.sub(ARGV[3], dash + 1))
  for _, it in ipairs(redis.call('LRANGE', KEYS[3], 1, -1)) do
    local nl = string.find(it, '\n', 1, true)
    local id = string.sub(it, 1, nl - 1)
    local d = string.find(id, '-', 1, true)
    local ms, seq = tonumber(string.sub(id, 1, d - 1)), tonumber(string.sub(id, d + 1))
    if ms > xms or (ms == xms and seq > xseq) then break end
    local b = redis.call('HGET', KEYS[4], id)
    if b then
      upto = id
      if change(id, tonumber(b)) then changed[#changed + 1] = id end
    end
  end
end
if #changed == 0 then
  local unread, unseen = inbox_get(KEYS[4])
  return {'', epoch, unread, unseen, 0}
end
if epoch == '' then
  return redis.error_reply('NOEPOCH the log has no epoch; nothing was written')
end
local depth = tonumber(ARGV[7])
inbox_trim(KEYS[3], KEYS[4], depth)
local unread, unseen = inbox_get(KEYS[4])
local tail = 'state,"channel":"' .. ARGV[1] .. '","op":"' .. op .. '"'
if upto then
  tail = tail .. ',"up_to":"' .. upto .. '"'
else
  tail = tail .. ',"ids":["' .. table.concat(changed, '","') .. '"]'
end
tail = tail .. inbox_counts(unread, unseen) .. '}'
local retention = tonumber(ARGV[5])
local pred = log_newest(KEYS[1])
local id, ms = log_append(KEYS[1], ARGV[4], ARGV[1], tail, pred)
log_trim(KEYS[1], retention, ms)
redis.call('SET', KEYS[5], id, 'PX', ARGV[9])
chan_push(KEYS[3], depth, retention, id, ms, tail)
if retention > 0 then
  redis.call('PEXPIRE', KEYS[3], retention)
  redis.call('PEXPIRE', KEYS[4], retention)
end
broadcast(ARGV[10], ARGV[6], epoch, pred, {log_frame('state', id, ms, string.sub(tail, 6))})
return {id, epoch, unread, unseen, #changed}
