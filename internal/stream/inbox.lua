-- inbox.lua: per-user inboxes, prepended after log.lua to publish.lua,
-- state.lua and inboxpage.lua (see inbox.go). The inbox of user U is the
-- alarms of channel user:U, kept in four keys that share one TTL (the
-- inbox retention, restarted by every publish to it and every change):
--   ch  list  its floor (the highest id that may be missing), then the ids
--             of its alarms, oldest first: the channel's backlog
--   ib  hash  "<id>" -> the alarm's tail, as in the log (its body)
--   ix  zset  one member per alarm, every score 0: its class (a letter,
--             below) then its id in fixed width (inbox_key), so that the
--             alarms of a class are one lexicographic range, in id order
--   se  list  its floor, then "<id>\n<tail>" of its newest state events
-- An alarm's state is its class: a unseen, b seen and unread, c read
-- (read implies seen), all three unarchived; d, e, f the same, archived.
-- The counts are ranges of ix (inbox_counts): they always equal what the
-- classes say.

-- inbox_pad returns ms (digits, or a number) zero-padded to 14 digits.
local function inbox_pad(ms)
  if type(ms) == 'number' then
    ms = string.format('%.0f', ms)
  end
  return string.rep('0', 14 - #ms) .. ms
end

-- inbox_key returns id "<ms>-<seq>" (canonical decimal) in fixed width:
-- ms in 14 digits, a letter giving seq's digit count (a = 1 .. t = 20),
-- then seq, so that keys sort as ids do; nil for an id beyond year 5000.
local function inbox_key(id)
  local d = string.find(id, '-', 1, true)
  local ms, seq = string.sub(id, 1, d - 1), string.sub(id, d + 1)
  if #ms > 14 then
    return nil
  end
  return inbox_pad(ms) .. string.char(96 + #seq) .. seq
end

-- inbox_id returns the id of key (inbox_key's, without a class letter).
local function inbox_id(key)
  local ms = string.gsub(string.sub(key, 1, 14), '^0+', '')
  if ms == '' then
    ms = '0'
  end
  return ms .. '-' .. string.sub(key, 16)
end

-- inbox_classes are the class letters, in order.
local inbox_classes = {'a', 'b', 'c', 'd', 'e', 'f'}

-- inbox_moves maps each op to the classes it changes: from -> to.
local inbox_moves = {
  seen = {a = 'b', d = 'e'},
  read = {a = 'c', b = 'c', d = 'f', e = 'f'},
  unread = {c = 'b', f = 'e'},
  archive = {a = 'd', b = 'e', c = 'f'},
  unarchive = {d = 'a', e = 'b', f = 'c'},
}

-- inbox_counts returns the unread and unseen alarms among the unarchived.
local function inbox_counts(ix)
  return redis.call('ZLEXCOUNT', ix, '[a', '(c'), redis.call('ZLEXCOUNT', ix, '[a', '(b')
end

-- inbox_counts_json returns the counts as a JSON fragment.
local function inbox_counts_json(unread, unseen)
  return ',"unread":' .. unread .. ',"unseen":' .. unseen
end

-- inbox_class returns the class of the alarm with key (nil: none), one
-- ZMSCORE.
local function inbox_class(ix, key)
  local sc = redis.call('ZMSCORE', ix, 'a' .. key, 'b' .. key, 'c' .. key, 'd' .. key, 'e' .. key, 'f' .. key)
  for j = 1, 6 do
    if sc[j] then
      return inbox_classes[j]
    end
  end
  return nil
end

-- inbox_call runs cmd on key with args (a list) in chunks of at most 1000
-- (an even number: ZADD's score-member pairs stay together).
local function inbox_call(cmd, key, args)
  for i = 1, #args, 1000 do
    redis.call(cmd, key, unpack(args, i, math.min(i + 999, #args)))
  end
end

-- inbox_ms returns the millisecond part of a list item's id.
local function inbox_ms(item)
  return tonumber(string.sub(item, 1, string.find(item, '-', 1, true) - 1))
end

-- inbox_old returns how many alarms of list ch from index at on have a
-- millisecond part below cutoff, reading in growing chunks.
local function inbox_old(ch, at, cutoff)
  local first = redis.call('LINDEX', ch, at)
  if not first or inbox_ms(first) >= cutoff then
    return 0 -- the common case: nothing is old
  end
  local old, chunk = 0, 8
  while true do
    local part = redis.call('LRANGE', ch, at + old, at + old + chunk - 1)
    for _, it in ipairs(part) do
      if inbox_ms(it) >= cutoff then
        return old
      end
      old = old + 1
    end
    if #part < chunk then
      return old
    end
    chunk = chunk * 4
  end
end

-- inbox_trim drops the oldest alarms of an inbox: those older than cutoff
-- (unix ms; nil: none), and, when room more alarms would not fit in depth
-- plus its slack (log.lua's chan_slack), as many as leave depth - room.
-- The last one dropped is the list's new floor. It costs O(log n) per
-- alarm dropped, and one LLEN (and one LRANGE with a cutoff) otherwise.
local function inbox_trim(ch, ix, ib, depth, room, cutoff)
  local n = redis.call('LLEN', ch) - 1 -- items after the floor
  if n <= 0 then
    return
  end
  local drop = 0
  if room > 0 and n + room > depth + chan_slack(depth) then
    drop = n + room - depth
  end
  if cutoff and drop < n then
    drop = drop + inbox_old(ch, drop + 1, cutoff)
  end
  if drop == 0 then
    return
  end
  local gone = redis.call('LPOP', ch, drop + 1) -- the floor and drop items
  local ids, members = {}, {}
  for i = 2, #gone do
    local it = gone[i]
    local id = string.sub(it, 1, (string.find(it, '\n', 1, true) or (#it + 1)) - 1)
    ids[#ids + 1] = id
    local key = inbox_key(id)
    if key then
      for _, c in ipairs(inbox_classes) do
        members[#members + 1] = c .. key
      end
    end
  end
  redis.call('LPUSH', ch, ids[#ids])
  inbox_call('HDEL', ib, ids)
  inbox_call('ZREM', ix, members)
end

-- inbox_push adds alarm id (millisecond part ms) with tail to an inbox,
-- unseen: to the end of its list (a new list gets its floor, chan_floor of
-- retention), its class a and its body.
local function inbox_push(ch, ix, ib, retention, id, ms, tail)
  if redis.call('RPUSH', ch, id) == 1 then
    redis.call('LPUSH', ch, chan_floor(retention, ms))
  end
  redis.call('ZADD', ix, 0, 'a' .. inbox_key(id))
  redis.call('HSET', ib, id, tail)
end

-- inbox_expire restarts the TTL of an inbox's keys: retention ms (0 =
-- none) after ms, the millisecond part of the id just written
-- (expire_after).
local function inbox_expire(retention, ms, ch, ix, ib, se)
  for _, key in ipairs({ch, ix, ib, se}) do
    expire_after(key, retention, ms)
  end
end

-- inbox_cutoff returns the unix ms below which an inbox alarm is past
-- retention ms (nil: none), on Redis' clock (now, or read when nil).
local function inbox_cutoff(retention, now)
  if retention <= 0 then
    return nil
  end
  local cutoff = (now or redis_ms()) - retention
  if cutoff <= 0 then
    return nil
  end
  return cutoff
end
