-- inboxpage.lua: one page of an inbox, newest first, in one atomic read.
-- log.lua's and inbox.lua's functions are prepended (see inbox.go).
-- KEYS[1] epoch, KEYS[2] the inbox's ix, KEYS[3] its ib (inbox.lua).
-- ARGV[1] before: only alarms with a lower id ("" = from the newest),
-- ARGV[2] limit (>= 1), ARGV[3] the classes to list (letters of
-- inbox.lua's classes, the filter).
-- Returns {epoch or false, unread, unseen, more, then per alarm: its id,
-- its class and its tail (false if missing)}; more is 1 when alarms
-- follow the page. Cost: O(log n + limit) per class listed: each class is
-- read from its newest alarm below before, at most limit + 1 of them, and
-- the classes merged.
local ix, ib = KEYS[2], KEYS[3]
local limit, classes = tonumber(ARGV[2]), ARGV[3]
local before = ARGV[1] ~= '' and inbox_key(ARGV[1]) or nil
local heads = {} -- per class with alarms: {members newest first, next index}
for i = 1, #classes do
  local c = string.sub(classes, i, i)
  local hi = '(' .. string.char(string.byte(c) + 1)
  if before then hi = '(' .. c .. before end
  local part = redis.call('ZRANGE', ix, hi, '[' .. c, 'BYLEX', 'REV', 'LIMIT', 0, limit + 1)
  if #part > 0 then heads[#heads + 1] = {part, 1} end
end
local picked = {} -- members, newest first
while #picked <= limit do
  local best, bk = nil, nil
  for _, h in ipairs(heads) do
    local m = h[1][h[2]]
    if m and (not best or string.sub(m, 2) > string.sub(best, 2)) then
      best, bk = m, h
    end
  end
  if not best then break end
  picked[#picked + 1] = best
  bk[2] = bk[2] + 1
end
local more = 0
if #picked > limit then
  more = 1
  picked[#picked] = nil
end
local unread, unseen = inbox_counts(ix)
local out = {redis.call('GET', KEYS[1]), unread, unseen, more}
if #picked > 0 then
  local ids = {}
  for j, m in ipairs(picked) do ids[j] = inbox_id(string.sub(m, 2)) end
  local bodies = redis.call('HMGET', ib, unpack(ids))
  for j, m in ipairs(picked) do
    out[#out + 1] = ids[j]
    out[#out + 1] = string.sub(m, 1, 1)
    out[#out + 1] = bodies[j]
  end
end
return out
