-- chanhist.lua: read the backlogs of several channels, each after its
-- own id. A channel's backlog is a list (written by publish.lua): element
-- 0 is its floor, the highest id that may be missing from it ("0-0":
-- nothing ever dropped); then one item per retained alarm, oldest first:
-- "<id>\n<tail>", or for an inbox (inbox.lua) "<id>" alone, its tail
-- being in the inbox's ib hash. A missing list expired after its
-- retention without a publish.
-- KEYS[1] epoch, KEYS[2] the log, then per read: the channel's list, and
-- for an inbox also its ib and se (inbox.lua).
-- ARGV[1] most alarms per channel (0 = all), ARGV[2] retention of the
-- channels that are no inbox in ms (0 = never expire), ARGV[3] inbox
-- retention in ms (0 = never expire), then per read: after ms, after seq,
-- and what to read: 0 a channel that is no inbox, 1 an inbox's alarms, 2
-- an inbox's alarms and state events merged (resumes; only without a
-- limit).
-- Returns {epoch or false, {complete, more, item...} per read}, items as
-- "<id>\n<tail>". A page that misses an item (a body gone) is incomplete.
-- The cost follows what is returned: with a limit (listing pages) the
-- position is found by bisection and the page read after it; without one
-- (resumes) the list is read from its newest end in growing chunks until
-- an id at or below the position.
local limit = tonumber(ARGV[1])
local function id_of(s) -- the ms and seq of the id s starts with
  local dash = string.find(s, '-', 1, true)
  local nl = string.find(s, '\n', dash, true) or (#s + 1)
  return tonumber(string.sub(s, 1, dash - 1)), tonumber(string.sub(s, dash + 1, nl - 1))
end
local function above(s, ams, aseq) -- the id s starts with is > ams-aseq
  local ms, seq = id_of(s)
  return ms > ams or (ms == ams and seq > aseq)
end
-- page returns up to limit items after the position, found by bisection.
local function page(key, n, ams, aseq)
  local lo, hi = 1, n -- the first item above the position is in [lo, hi]; n: none
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if above(redis.call('LINDEX', key, mid), ams, aseq) then hi = mid else lo = mid + 1 end
  end
  local res = {1, 0}
  if lo == 1 and above(redis.call('LINDEX', key, 0), ams, aseq) then
    res[1] = 0
  end
  if lo < n then
    local items = redis.call('LRANGE', key, lo, lo + limit)
    if #items > limit then
      res[2] = 1
      items[#items] = nil
    end
    for _, it in ipairs(items) do
      res[#res + 1] = it
    end
  end
  return res
end
local now
-- missing returns the page of a list that does not exist: complete when
-- an alarm after the position would have kept it alive until now (a list
-- lives retention ms after the millisecond part of its newest id,
-- log.lua's expire_after). Now is the later of Redis' clock and the log's
-- newest id: after the clock stepped back, a list may have expired at a
-- time the clock no longer shows, but any alarm published since has an
-- id at or after it.
local function missing(ams, retention)
  if not now then
    local t = redis.call('TIME')
    now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    local newest = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)[1]
    if newest then
      now = math.max(now, tonumber(string.sub(newest[1], 1, string.find(newest[1], '-', 1, true) - 1)))
    end
  end
  return {(retention == 0 or ams + retention > now) and 1 or 0, 0}
end
-- after returns every item after the position, reading list key from its
-- newest end in growing chunks.
local function after(key, n, ams, aseq)
  local newer = {} -- newest first
  local hi, chunk, reached = n - 1, 16, false
  while hi >= 1 and not reached do
    local lo = math.max(1, hi - chunk + 1)
    local part = redis.call('LRANGE', key, lo, hi)
    for j = #part, 1, -1 do
      if not above(part[j], ams, aseq) then
        reached = true
        break
      end
      newer[#newer + 1] = part[j]
    end
    hi, chunk = lo - 1, chunk * 4
  end
  local res = {1, 0}
  if not reached and above(redis.call('LINDEX', key, 0), ams, aseq) then
    res[1] = 0
  end
  for j = #newer, 1, -1 do
    res[#res + 1] = newer[j]
  end
  return res
end
local function read(key, ams, aseq, retention)
  local n = redis.call('LLEN', key)
  if n == 0 then
    return missing(ams, retention)
  end
  if limit > 0 then
    return page(key, n, ams, aseq)
  end
  return after(key, n, ams, aseq)
end
-- bodies replaces the items of res (from 3 on) that are an id alone with
-- "<id>\n<tail>", the tail from hash ib; an item whose tail is gone is
-- left out and makes res incomplete.
local function bodies(res, ib)
  local at, ids = {}, {}
  for j = 3, #res do
    if not string.find(res[j], '\n', 1, true) then
      at[#at + 1], ids[#ids + 1] = j, res[j]
    end
  end
  if #ids == 0 then return res end
  local tails = {}
  for i = 1, #ids, 1000 do
    for _, t in ipairs(redis.call('HMGET', ib, unpack(ids, i, math.min(i + 999, #ids)))) do
      tails[#tails + 1] = t
    end
  end
  for i, j in ipairs(at) do
    if tails[i] then res[j] = ids[i] .. '\n' .. tails[i] else res[j] = false end
  end
  local out = {res[1], res[2]}
  for j = 3, #res do
    if res[j] then out[#out + 1] = res[j] else out[1] = 0 end
  end
  return out
end
-- merge returns alarms (a page) with the items of events (another)
-- merged in id order, complete when both are.
local function merge(alarms, events)
  local out = {math.min(alarms[1], events[1]), 0}
  local i, j = 3, 3
  while alarms[i] or events[j] do
    if not events[j] or (alarms[i] and not above(alarms[i], id_of(events[j]))) then
      out[#out + 1], i = alarms[i], i + 1
    else
      out[#out + 1], j = events[j], j + 1
    end
  end
  return out
end
local out = {redis.call('GET', KEYS[1])}
local k = 3
for r = 0, (#ARGV - 3) / 3 - 1 do
  local ams, aseq, kind = tonumber(ARGV[4 + 3 * r]), tonumber(ARGV[5 + 3 * r]), ARGV[6 + 3 * r]
  if kind == '0' then
    out[#out + 1] = read(KEYS[k], ams, aseq, tonumber(ARGV[2]))
    k = k + 1
  else
    local iret = tonumber(ARGV[3])
    local res = bodies(read(KEYS[k], ams, aseq, iret), KEYS[k + 1])
    if kind == '2' then
      local events
      if redis.call('EXISTS', KEYS[k + 2]) == 0 and redis.call('EXISTS', KEYS[k]) == 1 then
        events = {1, 0} -- no state event since the inbox began
      else
        events = read(KEYS[k + 2], ams, aseq, iret)
      end
      res = merge(res, events)
    end
    out[#out + 1] = res
    k = k + 3
  end
end
return out
