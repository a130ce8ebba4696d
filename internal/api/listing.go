package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/protocol"
)

// listingQuery is the parsed query of GET /v1/alarms.
type listingQuery struct {
	channel string
	after   protocol.ID
	limit   int
}

// listingAnswer is the body of a GET /v1/alarms answer. Alarms are the
// alarm frames exactly as WebSocket clients receive them.
type listingAnswer struct {
	Epoch    string            `json:"epoch"`
	Alarms   []json.RawMessage `json:"alarms"`
	Complete bool              `json:"complete"`
	Next     string            `json:"next,omitempty"`
}

// listAlarms serves GET /v1/alarms, the alarm listing.
func (a *API) listAlarms(_ http.ResponseWriter, r *http.Request) (int, any, *apiError) {
	q, aerr := parseListingQuery(r.URL.Query())
	if aerr != nil {
		return 0, nil, aerr
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.Timeout)
	defer cancel()
	res, err := a.store.ListAlarms(ctx, q.channel, q.after, q.limit)
	if err != nil {
		return 0, nil, storeError(err)
	}
	ans := listingAnswer{Epoch: res.Epoch, Alarms: make([]json.RawMessage, 0, len(res.Alarms)),
		Complete: res.Complete}
	for _, e := range res.Alarms {
		if !e.IsState() { // an inbox's state events are GET /v1/inbox's business
			ans.Alarms = append(ans.Alarms, e.Frame)
		}
	}
	if !res.Next.IsZero() {
		ans.Next = res.Next.String()
	}
	return http.StatusOK, ans, nil
}

// parseListingQuery checks channel (required), after (optional id; empty
// means from the oldest retained) and limit (1..MaxListingLimit, default
// DefaultListingLimit).
func parseListingQuery(v url.Values) (listingQuery, *apiError) {
	q := listingQuery{channel: v.Get("channel"), limit: DefaultListingLimit}
	switch {
	case !v.Has("channel"):
		return q, badRequest(protocol.CodeMissingField, "channel is required")
	case !alarm.ValidChannel(q.channel):
		return q, storeError(alarm.ErrInvalidChannel)
	}
	var aerr *apiError
	if q.after, aerr = idParam(v, "after"); aerr != nil {
		return q, aerr
	}
	q.limit, aerr = limitParam(v, DefaultListingLimit, MaxListingLimit)
	return q, aerr
}

// idParam reads the optional id parameter name; zero when absent.
func idParam(v url.Values, name string) (protocol.ID, *apiError) {
	s := v.Get(name)
	if s == "" {
		return protocol.ID{}, nil
	}
	id, err := protocol.ParseID(s)
	if err != nil {
		return protocol.ID{}, badRequest(protocol.CodeInvalidID, name+" must be an id of the form <ms>-<seq>")
	}
	return id, nil
}

// limitParam reads the optional limit parameter: 1..max, def when absent.
func limitParam(v url.Values, def, max int) (int, *apiError) {
	s := v.Get("limit")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		return def, badRequest(protocol.CodeInvalidLimit, "limit must be an integer from 1 to "+strconv.Itoa(max))
	}
	return n, nil
}
