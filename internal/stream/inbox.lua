-- inbox.lua: per-user inbox state, prepended to publish.lua and state.lua
-- (see inbox.go). The inbox of user U is the alarms of user:U retained in
-- its channel backlog; its state is a hash {prefix}:st:user:U holding
-- "<alarm id>" -> state bits (1 seen, 2 read, 4 archived) for every
-- retained inbox alarm, and the counters "unread" and "unseen": the
-- unarchived alarms that are unread, unseen. The hash shares the backlog's
-- TTL and is written only by these scripts, so the counters always equal
-- what the bits say.
local function inbox_unread(b)
  if b % 8 >= 4 or b % 4 >= 2 then return 0 end
  return 1
end
local function inbox_unseen(b)
  if b % 8 >= 4 or b % 2 == 1 then return 0 end
  return 1
end
-- inbox_count moves the counters from bits old to new (nil: absent).
local function inbox_count(st, old, new)
  local du, ds = 0, 0
  if old then du, ds = -inbox_unread(old), -inbox_unseen(old) end
  if new then du, ds = du + inbox_unread(new), ds + inbox_unseen(new) end
  if du ~= 0 then redis.call('HINCRBY', st, 'unread', du) end
  if ds ~= 0 then redis.call('HINCRBY', st, 'unseen', ds) end
end
-- inbox_trim drops the oldest items of backlog hist when one more would
-- not fit in depth plus its slack, keeping depth-1, as log.lua's chan_push
-- would after the push, and forgets the state of dropped inbox alarms.
local function inbox_trim(hist, st, depth)
  local n = redis.call('LLEN', hist) -- the floor and n-1 items
  if n <= depth + chan_slack(depth) then return end
  local dropped = redis.call('LPOP', hist, n - depth + 1)
  local last
  for i = 2, #dropped do
    local it = dropped[i]
    last = string.sub(it, 1, string.find(it, '\n', 1, true) - 1)
    local b = redis.call('HGET', st, last)
    if b then
      inbox_count(st, tonumber(b), nil)
      redis.call('HDEL', st, last)
    end
  end
  redis.call('LPUSH', hist, last)
end
-- inbox_get returns the counters unread and unseen of state st.
local function inbox_get(st)
  local c = redis.call('HMGET', st, 'unread', 'unseen')
  return tonumber(c[1] or '0'), tonumber(c[2] or '0')
end
-- inbox_counts returns the counters (inbox_get's) as a JSON fragment.
local function inbox_counts(unread, unseen)
  return ',"unread":' .. unread .. ',"unseen":' .. unseen
end
