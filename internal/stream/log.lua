-- log.lua: what every script that writes the log shares (prepended to
-- publish.lua and state.lua, before inbox.lua).

-- redis_ms returns Redis' clock (TIME) in unix ms.
local function redis_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- log_newest returns the id of the log's newest entry ("0-0" when empty).
local function log_newest(stream)
  local newest = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)
  if newest[1] then
    return newest[1][1]
  end
  return '0-0'
end

-- log_append appends an entry for channel with tail to the log stream,
-- naming its predecessor pred (the log's newest id, log_newest), so a
-- reader can prove the log it follows is continuous: after a rollback the
-- next entry names an older id. It caps the log by count (MAXLEN ~ maxlen)
-- and returns the new id and its millisecond part.
local function log_append(stream, maxlen, channel, tail, pred)
  local id = redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', 'c', channel, 't', tail, 'p', pred)
  return id, string.sub(id, 1, string.find(id, '-', 1, true) - 1)
end

-- log_trim caps the log by age: entries older than retention ms before
-- ms (the newest entry's millisecond part) go (MINID ~; 0 = off).
local function log_trim(stream, retention, ms)
  if retention > 0 then
    local minid = tonumber(ms) - retention
    if minid > 0 then
      redis.call('XTRIM', stream, 'MINID', '~', string.format('%.0f', minid))
    end
  end
end

-- expire_after makes key expire ttl ms (0 = never) after ms, the
-- millisecond part of the newest id written to it, on Redis' clock
-- (PEXPIREAT). Ids never go back, but Redis' clock may: after it stepped
-- back, new ids keep the last id's millisecond part and run ahead of the
-- clock. A TTL counted from the clock (PEXPIRE) would then let a list
-- expire less than ttl after the ids it held, and a reader that takes a
-- missing list as "nothing after ms - ttl was lost" (backlog.lua) would
-- resume across them.
local function expire_after(key, ttl, ms)
  if ttl > 0 then
    redis.call('PEXPIREAT', key, string.format('%.0f', tonumber(ms) + ttl))
  end
end

-- chan_slack is how far a channel backlog of depth items may grow past
-- depth before it is trimmed back to depth: trimming in steps keeps the
-- trim off the path of most publishes. inbox.lua's inbox_trim follows the
-- same rule.
local function chan_slack(depth)
  return math.floor(depth / 8)
end

-- chan_floor returns the floor of a new channel list whose first item has
-- millisecond part ms: whatever such a list held before (it is new, or
-- expired when idle) was published more than retention ms (0 = none) ago.
local function chan_floor(retention, ms)
  if retention > 0 and tonumber(ms) > retention then
    return string.format('%.0f', tonumber(ms) - retention) .. '-18446744073709551615'
  end
  return '0-0'
end

-- chan_push appends "<id>\n<tail>" to a channel list hist: a list whose
-- first element is its floor (the highest id that may be missing from
-- it), then its items oldest first: the newest depth of them, and up to
-- chan_slack(depth) older ones (0 = no list). retention (ms, 0 = none)
-- makes the floor of a new list (chan_floor); ms is id's millisecond part.
-- The caller sets the list's TTL. It keeps the backlogs of channels that
-- are no inbox, and the recent state events of inboxes (inbox.lua keeps
-- the alarms of inboxes).
local function chan_push(hist, depth, retention, id, ms, tail)
  if depth <= 0 then
    return
  end
  local len = redis.call('RPUSH', hist, id .. '\n' .. tail)
  if len == 1 then
    redis.call('LPUSH', hist, chan_floor(retention, ms))
  elseif len > depth + 1 + chan_slack(depth) then
    -- Drop the floor and the oldest items, keeping depth; the last one
    -- dropped is the new floor.
    local cut = len - depth
    local last = redis.call('LINDEX', hist, cut - 1)
    redis.call('LTRIM', hist, cut, -1)
    redis.call('LPUSH', hist, string.sub(last, 1, string.find(last, '\n', 1, true) - 1))
  end
end

-- log_frame returns the wire frame of log entry id of type typ ("alarm",
-- "state"): {"type":typ,"id":id,"ts":ms...}, rest being its tail without
-- a type name (alarm.Frame builds the same bytes).
local function log_frame(typ, id, ms, rest)
  return '{"type":"' .. typ .. '","id":"' .. id .. '","ts":' .. ms .. rest
end

-- broadcast publishes frames (a list, oldest first; frames hold no
-- newline) on the live channel as one message
-- "<epoch>\n<pred>\n<frame>\n<frame>...", pred being the first frame's
-- predecessor in the log; with SPUBLISH when sharded is "1" (Redis
-- Cluster's sharded Pub/Sub).
local function broadcast(sharded, live, epoch, pred, frames)
  local msg = epoch .. '\n' .. pred .. '\n' .. table.concat(frames, '\n')
  if sharded == '1' then
    redis.call('SPUBLISH', live, msg)
  else
    redis.call('PUBLISH', live, msg)
  end
end
