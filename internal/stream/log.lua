-- log.lua: what every script that writes the log shares (prepended to
-- publish.lua and state.lua, with inbox.lua).

-- past reports whether Redis' clock is past deadline (unix ms; 0 = none).
local function past(deadline)
  deadline = tonumber(deadline)
  if deadline <= 0 then
    return false
  end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) > deadline
end

-- log_append appends an entry for channel with tail to the log stream,
-- naming its predecessor (p), so a reader can prove the log it follows is
-- continuous: after a rollback the next entry names an older id. It caps
-- the log by count (MAXLEN ~ maxlen) and age (MINID ~, retention ms; 0 =
-- off) and returns the new id, its millisecond part and the predecessor.
local function log_append(stream, maxlen, retention, channel, tail)
  local newest = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)
  local pred = '0-0'
  if newest[1] then
    pred = newest[1][1]
  end
  local id = redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', 'c', channel, 't', tail, 'p', pred)
  local ms = string.sub(id, 1, string.find(id, '-', 1, true) - 1)
  if retention > 0 then
    local minid = tonumber(ms) - retention
    if minid > 0 then
      redis.call('XTRIM', stream, 'MINID', '~', string.format('%.0f', minid))
    end
  end
  return id, ms, pred
end

-- broadcast publishes msg on the live channel, with SPUBLISH when sharded
-- is "1" (Redis Cluster's sharded Pub/Sub).
local function broadcast(sharded, live, msg)
  if sharded == '1' then
    redis.call('SPUBLISH', live, msg)
  else
    redis.call('PUBLISH', live, msg)
  end
end
