-- state.lua: change the state of inbox alarms and, when anything changed,
-- append the change to the log as a state event on the user's channel,
-- atomically. log.lua's and inbox.lua's functions are prepended (see
-- inbox.go).
-- KEYS[1] stream, KEYS[2] epoch, KEYS[3..6] the inbox's ch, ix, ib and se
-- (inbox.lua), KEYS[7] this request's token record.
-- ARGV[1] channel, ARGV[2] op (seen, read, unread, archive, unarchive),
-- ARGV[3] up_to as "<ms>-<seq>" ("" when ids are given), ARGV[4] MAXLEN,
-- ARGV[5] the log's retention in ms (0 = off), ARGV[6] live Pub/Sub
-- channel, ARGV[7] how many state events se keeps, ARGV[8] the caller's
-- deadline in unix ms (0 = none), ARGV[9] TTL of the token record in ms,
-- ARGV[10] "1" to broadcast with SPUBLISH (sharded Pub/Sub), ARGV[11] the
-- inbox retention in ms (0 = off), ARGV[12..] ids. Ids are canonical
-- ("<ms>-<seq>" without leading zeros).
-- Returns {id, epoch, unread, unseen, changed}: id "" when nothing changed
-- (nothing is written: repeating a change is harmless). A re-run of the
-- same request finds its token record and answers as the first run did.
-- Cost: O(log n) to find what changes, plus O(log n) per alarm changed;
-- a change that changes nothing costs O(log n) whatever the inbox holds.
-- Every refusal (DEADLINE, NOEPOCH) is decided before the first write.
local ch, ix, ib, se = KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local done = redis.call('GET', KEYS[7])
if done then
  local unread, unseen = inbox_counts(ix)
  return {done, redis.call('GET', KEYS[2]) or '', unread, unseen, -1}
end
local now = redis_ms()
local deadline = tonumber(ARGV[8])
if deadline > 0 and now > deadline then
  return redis.error_reply('DEADLINE the state change reached Redis after its deadline; nothing was written')
end
local epoch = redis.call('GET', KEYS[2]) or ''
local op, moves = ARGV[2], inbox_moves[ARGV[2]]
local iret = tonumber(ARGV[11])
-- Alarms older than the inbox retention are as good as gone: nothing
-- changes them, and they are dropped below when something changes.
local cutoff = inbox_cutoff(iret, now)
local low = cutoff and inbox_pad(cutoff) or ''

-- Decide, reading only: the members to remove (from) and to add (to).
local from, to, changed, upto = {}, {}, {}, nil
if ARGV[3] == '' then
  local touched = {}
  for i = 12, #ARGV do
    local key = inbox_key(ARGV[i])
    if key and key >= low and not touched[key] then
      touched[key] = true
      local cls = inbox_class(ix, key)
      local new = cls and moves[cls]
      if new then
        from[#from + 1], to[#to + 1] = cls .. key, new .. key
        changed[#changed + 1] = ARGV[i]
      end
    end
  end
else
  local bound = inbox_key(ARGV[3]) -- nil: beyond every alarm
  local function range_hi(c) -- the range's top: alarms of class c up to the bound
    if bound then return '[' .. c .. bound end
    return '(' .. string.char(string.byte(c) + 1)
  end
  for _, c in ipairs(inbox_classes) do
    local new = moves[c]
    if new then
      for _, m in ipairs(redis.call('ZRANGE', ix, '[' .. c .. low, range_hi(c), 'BYLEX')) do
        from[#from + 1], to[#to + 1] = m, new .. string.sub(m, 2)
      end
    end
  end
  if #from > 0 then
    -- The event names the newest alarm at or below the bound, in any class.
    local newest = ''
    for _, c in ipairs(inbox_classes) do
      local m = redis.call('ZRANGE', ix, range_hi(c), '[' .. c .. low, 'BYLEX', 'REV', 'LIMIT', 0, 1)[1]
      if m and string.sub(m, 2) > newest then newest = string.sub(m, 2) end
    end
    upto = inbox_id(newest)
  end
end
if #from == 0 then
  local unread, unseen = inbox_counts(ix)
  return {'', epoch, unread, unseen, 0}
end
if epoch == '' then
  return redis.error_reply('NOEPOCH the log has no epoch; nothing was written')
end

-- Write.
inbox_trim(ch, ix, ib, 0, 0, cutoff)
inbox_call('ZREM', ix, from)
local add = {}
for _, m in ipairs(to) do
  add[#add + 1] = 0
  add[#add + 1] = m
end
inbox_call('ZADD', ix, add)
local unread, unseen = inbox_counts(ix)
local tail = 'state,"channel":"' .. ARGV[1] .. '","op":"' .. op .. '"'
if upto then
  tail = tail .. ',"up_to":"' .. upto .. '"'
else
  tail = tail .. ',"ids":["' .. table.concat(changed, '","') .. '"]'
end
tail = tail .. inbox_counts_json(unread, unseen) .. '}'
local pred = log_newest(KEYS[1])
local id, ms = log_append(KEYS[1], ARGV[4], ARGV[1], tail, pred)
log_trim(KEYS[1], tonumber(ARGV[5]), ms)
redis.call('SET', KEYS[7], id, 'PX', ARGV[9])
chan_push(se, tonumber(ARGV[7]), iret, id, ms, tail)
inbox_expire(iret, ms, ch, ix, ib, se)
broadcast(ARGV[10], ARGV[6], epoch, pred, {log_frame('state', id, ms, string.sub(tail, 6))})
return {id, epoch, unread, unseen, #from}
