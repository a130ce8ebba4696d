-- backlog.lua: read the backlogs of several channels, each after its
-- own id. A channel's backlog is a list (written by publish.lua): element
-- 0 is its floor, the highest id that may be missing from it ("0-0":
-- nothing ever dropped); then "<id>\n<tail>" per retained alarm, oldest
-- first. A missing list expired after Retention without a publish.
-- KEYS[1] epoch, KEYS[2..] channel backlogs.
-- ARGV[1] most alarms per channel (0 = all), ARGV[2] retention in ms
-- (0 = backlogs never expire), then per backlog: after ms, after seq.
-- Returns {epoch or false, {complete, more, item...} per backlog}.
-- The cost follows what is returned: with a limit (listing pages) the
-- position is found by bisection and the page read after it; without one
-- (resumes) the list is read from its newest end in growing chunks until
-- an id at or below the position.
local limit, retention = tonumber(ARGV[1]), tonumber(ARGV[2])
local function above(s, ams, aseq) -- the id s starts with is > ams-aseq
  local dash = string.find(s, '-', 1, true)
  local nl = string.find(s, '\n', dash, true) or (#s + 1)
  local ms = tonumber(string.sub(s, 1, dash - 1))
  return ms > ams or (ms == ams and tonumber(string.sub(s, dash + 1, nl - 1)) > aseq)
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
local function read(key, ams, aseq)
  local n = redis.call('LLEN', key)
  if n == 0 then
    -- Missing: an alarm after the position would have kept the list
    -- alive until at least its own time plus the retention.
    if not now then
      local t = redis.call('TIME')
      now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    end
    return {(retention == 0 or ams + retention > now) and 1 or 0, 0}
  end
  if limit > 0 then
    return page(key, n, ams, aseq)
  end
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
  local complete = 1
  if not reached and above(redis.call('LINDEX', key, 0), ams, aseq) then
    complete = 0
  end
  local res = {complete, 0}
  local first = #newer
  local last = 1
  if limit > 0 and #newer > limit then
    last = #newer - limit + 1
    res[2] = 1
  end
  for j = first, last, -1 do
    res[#res + 1] = newer[j]
  end
  return res
end
local out = {redis.call('GET', KEYS[1])}
for k = 2, #KEYS do
  out[k] = read(KEYS[k], tonumber(ARGV[2 * k - 1]), tonumber(ARGV[2 * k]))
end
return out
