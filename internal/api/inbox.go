package api

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/internal/auth"
	"github.com/alarmgate/alarmgate/internal/limit"
	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/protocol"
)

// Inbox routes. Both take either a client token (the user is its subject)
// or an API key with ?user=<sub> (the application's backend).
const (
	RouteInbox      = "GET /v1/inbox"
	RouteInboxState = "POST /v1/inbox/state"
)

// Inbox page sizes of GET /v1/inbox.
const (
	DefaultInboxLimit = stream.DefaultInboxLimit
	MaxInboxLimit     = stream.MaxInboxLimit
	maxStateBody      = 64 << 10
)

// InboxStore is the inbox state as the API uses it; *stream.Store
// implements it.
type InboxStore interface {
	ChangeState(ctx context.Context, channel string, c protocol.StateChange) (stream.StateResult, error)
	ReadInbox(ctx context.Context, channel string, q stream.InboxQuery) (stream.Inbox, error)
}

var _ InboxStore = (*stream.Store)(nil)

// WithInbox enables the inbox routes: store serves them and v checks the
// client tokens they accept besides API keys. The node gives a
// *limit.Inbox, which limits each user's calls; its *limit.LimitedError
// is answered 429 with Retry-After. Call it before Register.
func (a *API) WithInbox(store InboxStore, v *auth.Verifier) *API {
	a.inbox, a.verify = store, v
	return a
}

// inboxKey is the context key of the inbox channel an inbox request
// authenticated for.
type inboxKey struct{}

// inboxAuth resolves the inbox of a request: a client token's subject, or
// with an API key the user query parameter. The digest of the token names
// the caller for the publish limit.
func (a *API) inboxAuth(r *http.Request, token string) (*http.Request, [sha256.Size]byte, *apiError) {
	digest := sha256.Sum256([]byte(token))
	r, aerr := a.resolveInbox(r, token)
	return r, digest, aerr
}

// resolveInbox is inboxAuth without the digest.
func (a *API) resolveInbox(r *http.Request, token string) (*http.Request, *apiError) {
	unauthorized := &apiError{status: http.StatusUnauthorized, code: protocol.CodeUnauthorized,
		message: "missing or invalid API key or token"}
	if token == "" {
		return r, unauthorized
	}
	user := r.URL.Query().Get("user")
	switch {
	case a.keys.Check(token):
		if user == "" || !alarm.ValidChannel(stream.InboxPrefix+user) {
			return r, badRequest(protocol.CodeInvalidUser, "with an API key, give the inbox's user as ?user=<sub>")
		}
	case a.verify == nil:
		return r, unauthorized
	default:
		claims, err := a.verify.Verify(token)
		if err != nil {
			return r, unauthorized
		}
		if user != "" && user != claims.Subject {
			return r, badRequest(protocol.CodeInvalidUser, "a client token reaches its own inbox only; leave out user")
		}
		user = claims.Subject
	}
	return r.WithContext(context.WithValue(r.Context(), inboxKey{}, stream.InboxPrefix+user)), nil
}

func inboxOf(r *http.Request) string {
	s, _ := r.Context().Value(inboxKey{}).(string)
	return s
}

// stateBody is the body of POST /v1/inbox/state.
type stateBody struct {
	Op   string   `json:"op"`
	IDs  []string `json:"ids"`
	UpTo string   `json:"up_to"`
}

// stateAnswer is the answer of POST /v1/inbox/state. ID is the state
// event's id, absent when nothing changed (nothing was appended).
type stateAnswer struct {
	ID      string `json:"id,omitempty"`
	Changed int    `json:"changed"`
	Unread  int    `json:"unread"`
	Unseen  int    `json:"unseen"`
}

// changeState serves POST /v1/inbox/state.
func (a *API) changeState(_ http.ResponseWriter, r *http.Request) (int, any, *apiError) {
	b, aerr := readBody(r.Body)
	if aerr != nil {
		return 0, nil, aerr
	}
	if aerr := checkUTF8(b); aerr != nil {
		return 0, nil, aerr
	}
	var body stateBody
	if aerr := decodeObject(b, body.fields()); aerr != nil {
		return 0, nil, aerr
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.Timeout)
	defer cancel()
	res, err := a.inbox.ChangeState(ctx, inboxOf(r), protocol.StateChange{Op: body.Op, IDs: body.IDs, UpTo: body.UpTo})
	if err != nil {
		return 0, nil, inboxError(err)
	}
	ans := stateAnswer{Changed: res.Changed, Unread: res.Counts.Unread, Unseen: res.Counts.Unseen}
	if !res.ID.IsZero() {
		ans.ID = res.ID.String()
	}
	return http.StatusOK, ans, nil
}

func inboxError(err error) *apiError {
	var limited *limit.LimitedError
	switch {
	case errors.As(err, &limited):
		return &apiError{status: http.StatusTooManyRequests, code: protocol.CodeRateLimited,
			message: "too many requests for this user's inbox; retry later", retryAfter: limited.Wait, hold: limited.Wait}
	case errors.Is(err, stream.ErrInvalidChange):
		return badRequest(protocol.CodeInvalidChange, err.Error())
	case errors.Is(err, stream.ErrNoInbox):
		return badRequest(protocol.CodeNoInbox, "this inbox keeps no state")
	}
	return storeError(err)
}

// inboxItem is one alarm of a GET /v1/inbox answer: the alarm frame as
// WebSocket clients received it, and its state now.
type inboxItem struct {
	Alarm    json.RawMessage `json:"alarm"`
	Seen     bool            `json:"seen"`
	Read     bool            `json:"read"`
	Archived bool            `json:"archived"`
}

// inboxAnswer is the answer of GET /v1/inbox. Next, when set, is the
// before of the next page.
type inboxAnswer struct {
	Epoch  string      `json:"epoch"`
	Unread int         `json:"unread"`
	Unseen int         `json:"unseen"`
	Items  []inboxItem `json:"items"`
	Next   string      `json:"next,omitempty"`
}

// readInbox serves GET /v1/inbox: one page, read and filtered in Redis.
func (a *API) readInbox(_ http.ResponseWriter, r *http.Request) (int, any, *apiError) {
	q, aerr := parseInboxQuery(r.URL.Query())
	if aerr != nil {
		return 0, nil, aerr
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.Timeout)
	defer cancel()
	in, err := a.inbox.ReadInbox(ctx, inboxOf(r), q)
	if err != nil {
		return 0, nil, inboxError(err)
	}
	ans := inboxAnswer{Epoch: in.Epoch, Unread: in.Counts.Unread, Unseen: in.Counts.Unseen,
		Items: make([]inboxItem, 0, len(in.Items))}
	for _, it := range in.Items { // newest first
		ans.Items = append(ans.Items, inboxItem{Alarm: it.Alarm.Frame, Seen: it.Bits&stream.BitSeen != 0,
			Read: it.Bits&stream.BitRead != 0, Archived: it.Bits&stream.BitArchived != 0})
	}
	if !in.Next.IsZero() {
		ans.Next = in.Next.String()
	}
	return http.StatusOK, ans, nil
}

// parseInboxQuery reads before (optional id), limit (1..MaxInboxLimit,
// default DefaultInboxLimit), unread and archived (optional booleans).
func parseInboxQuery(v url.Values) (stream.InboxQuery, *apiError) {
	var q stream.InboxQuery
	var aerr *apiError
	if q.Before, aerr = idParam(v, "before"); aerr != nil {
		return q, aerr
	}
	if q.Limit, aerr = limitParam(v, DefaultInboxLimit, MaxInboxLimit); aerr != nil {
		return q, aerr
	}
	for name, dst := range map[string]**bool{"unread": &q.Unread, "archived": &q.Archived} {
		if s := v.Get(name); s != "" {
			b, err := strconv.ParseBool(s)
			if err != nil {
				return q, badRequest(protocol.CodeInvalidFilter, name+" must be true or false")
			}
			*dst = &b
		}
	}
	return q, nil
}
