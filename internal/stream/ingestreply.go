package stream

import (
	"errors"
	"fmt"
)

// settleLua acknowledges entries still pending on a consumer and deletes
// their entry idempotency records when given, skipping those another
// consumer claimed meanwhile. KEYS[1] the ingest stream, KEYS[1+i] (when
// given) the record of entry i; ARGV[1] the group, ARGV[2] the consumer,
// ARGV[3] and ARGV[4] the lowest and highest of the ids, ARGV[4+i] entry
// i's id. One XPENDING of the consumer over that range tells which are
// still its own. Returns the ids acknowledged.
const settleLua = `
local mine = {}
for _, p in ipairs(redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[4], 2147483647, ARGV[2])) do
  mine[p[1]] = true
end
local ids, recs = {}, {}
for i = 5, #ARGV do
  if mine[ARGV[i]] then
    ids[#ids + 1] = ARGV[i]
    if KEYS[i - 3] then
      recs[#recs + 1] = KEYS[i - 3]
    end
  end
end
for i = 1, #ids, 1000 do
  redis.call('XACK', KEYS[1], ARGV[1], unpack(ids, i, math.min(i + 999, #ids)))
end
for i = 1, #recs, 1000 do
  redis.call('DEL', unpack(recs, i, math.min(i + 999, #recs)))
end
return ids`

// deleteConsumerLua removes consumer ARGV[2] from group ARGV[1] of stream
// KEYS[1] if nothing is pending on it: returns -1 when something is, else
// what XGROUP DELCONSUMER returns (the pending entries it dropped: 0).
const deleteConsumerLua = `
if redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])[1] then
  return -1
end
return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])`

// errReply reports a reply of an unexpected shape.
var errReply = errors.New("unexpected reply")

// parseRead decodes the reply of an XREADGROUP on one stream: in RESP2
// [[stream, entries]], in RESP3 {stream: entries}.
func parseRead(res any) ([]IngestEntry, error) {
	switch r := res.(type) {
	case nil:
		return nil, nil
	case []any:
		if len(r) == 0 {
			return nil, nil
		}
		s, ok := r[0].([]any)
		if len(r) != 1 || !ok || len(s) != 2 {
			return nil, fmt.Errorf("%w: %T", errReply, res)
		}
		return parseEntries(s[1])
	case map[any]any:
		if len(r) != 1 {
			return nil, fmt.Errorf("%w: %d streams", errReply, len(r))
		}
		for _, entries := range r {
			return parseEntries(entries)
		}
	}
	return nil, fmt.Errorf("%w: %T", errReply, res)
}

// parseEntries decodes a list of stream entries, [[id, [name, value,
// ...]], ...], keeping each entry's fields in order, repeated names
// included (go-redis' XMessage keeps only a name's last value). An entry
// without fields (XCLAIM of an entry deleted meanwhile, before Redis 7)
// is left out.
func parseEntries(res any) ([]IngestEntry, error) {
	list, ok := res.([]any)
	if !ok {
		return nil, fmt.Errorf("%w: entries are %T", errReply, res)
	}
	out := make([]IngestEntry, 0, len(list))
	for _, it := range list {
		e, ok := it.([]any)
		if !ok || len(e) < 2 {
			return nil, fmt.Errorf("%w: entry %T", errReply, it)
		}
		id, ok := e[0].(string)
		if !ok {
			return nil, fmt.Errorf("%w: entry id %T", errReply, e[0])
		}
		if e[1] == nil {
			continue
		}
		kv, ok := e[1].([]any)
		if !ok || len(kv)%2 != 0 {
			return nil, fmt.Errorf("%w: fields of %s", errReply, id)
		}
		fields := make([]IngestField, len(kv)/2)
		for i := range fields {
			name, ok1 := kv[2*i].(string)
			value, ok2 := kv[2*i+1].(string)
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("%w: field %d of %s", errReply, i, id)
			}
			fields[i] = IngestField{Name: name, Value: value}
		}
		out = append(out, IngestEntry{ID: id, Fields: fields})
	}
	return out, nil
}
