package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/protocol"
)

// Values of the Published metric's result label.
const (
	resultCreated  = "created"
	resultReplayed = "replayed"
	resultError    = "error"
)

// publishedBody is the answer to an accepted alarm. Replayed is set only in
// batch results; a single publish says so with a header instead.
type publishedBody struct {
	ID       string `json:"id"`
	Channel  string `json:"channel"`
	Epoch    string `json:"epoch"`
	Replayed bool   `json:"replayed,omitempty"`
}

// batchResult is one item of a batch answer: published or an error.
type batchResult struct {
	*publishedBody
	Error *errorBody `json:"error,omitempty"`
}

type batchAnswer struct {
	Results []batchResult `json:"results"`
}

func published(res stream.PublishResult) *publishedBody {
	return &publishedBody{ID: res.ID.String(), Channel: res.Channel, Epoch: res.Epoch}
}

// publish serves POST /v1/alarms.
func (a *API) publish(w http.ResponseWriter, r *http.Request) (int, any, *apiError) {
	in, aerr := a.readPublish(r)
	if aerr != nil {
		a.m.Published.WithLabelValues(resultError).Inc()
		return 0, nil, aerr
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.Timeout)
	defer cancel()
	start := time.Now()
	res, err := a.store.Publish(ctx, in)
	if err != nil {
		a.m.Published.WithLabelValues(resultError).Inc()
		return 0, nil, storeError(err)
	}
	a.m.PublishLatency.Observe(time.Since(start).Seconds())
	if res.Replayed {
		a.m.Published.WithLabelValues(resultReplayed).Inc()
		w.Header().Set("Idempotent-Replayed", "true")
		return http.StatusOK, published(res), nil
	}
	a.m.Published.WithLabelValues(resultCreated).Inc()
	return http.StatusCreated, published(res), nil
}

// readPublish validates the Idempotency-Key header and decodes the body.
func (a *API) readPublish(r *http.Request) (stream.PublishInput, *apiError) {
	key, aerr := idemKeyHeader(r.Header)
	if aerr != nil {
		return stream.PublishInput{}, aerr
	}
	b, aerr := readBody(r.Body)
	if aerr != nil {
		return stream.PublishInput{}, aerr
	}
	in, aerr := decodePublish(b)
	if aerr != nil {
		return stream.PublishInput{}, aerr
	}
	in.IdempotencyKey = key
	return in, nil
}

// idemKeyHeader returns the Idempotency-Key header: "" when absent, an
// error when present but not exactly one valid key.
func idemKeyHeader(h http.Header) (string, *apiError) {
	vals := h.Values("Idempotency-Key")
	switch {
	case len(vals) == 0:
		return "", nil
	case len(vals) > 1 || !alarm.ValidIdemKey(vals[0]):
		return "", storeError(alarm.ErrInvalidIdemKey)
	}
	return vals[0], nil
}

// publishBatch serves POST /v1/alarms/batch. Items that fail validation
// get their own error result; the others go to the store in one call.
func (a *API) publishBatch(_ http.ResponseWriter, r *http.Request) (int, any, *apiError) {
	if len(r.Header.Values("Idempotency-Key")) > 0 {
		return 0, nil, badRequest(protocol.CodeInvalidIdempotencyKey,
			"a batch takes no Idempotency-Key header; set idempotency_key on each item")
	}
	b, aerr := readBody(r.Body)
	if aerr != nil {
		return 0, nil, aerr
	}
	items, aerr := decodeBatch(b, a.cfg.MaxBatch)
	if aerr != nil {
		return 0, nil, aerr
	}
	results := make([]batchResult, len(items))
	ins := make([]stream.PublishInput, 0, len(items))
	idx := make([]int, 0, len(items)) // idx[j] is the position of ins[j] in the batch
	for i, it := range items {
		if it.aerr != nil {
			a.m.Published.WithLabelValues(resultError).Inc()
			results[i].Error = new(it.aerr.body())
			continue
		}
		ins = append(ins, it.in)
		idx = append(idx, i)
	}
	if len(ins) > 0 {
		a.runBatch(r, ins, idx, results)
	}
	return http.StatusOK, batchAnswer{Results: results}, nil
}

// runBatch publishes the valid items and fills their results. Store
// failures of 5xx kind are logged once per batch.
func (a *API) runBatch(r *http.Request, ins []stream.PublishInput, idx []int, results []batchResult) {
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.Timeout)
	defer cancel()
	start := time.Now()
	res, errs := a.store.PublishBatch(ctx, ins)
	a.m.PublishLatency.Observe(time.Since(start).Seconds())
	var failed int
	var first *apiError
	for j, i := range idx {
		var err error
		switch {
		case j < len(errs) && errs[j] != nil:
			err = errs[j]
		case j >= len(res):
			err = errors.New("api: store returned fewer results than items")
		}
		if err != nil {
			a.m.Published.WithLabelValues(resultError).Inc()
			aerr := storeError(err)
			results[i].Error = new(aerr.body())
			if aerr.status >= 500 {
				failed++
				first = cmpOr(first, aerr)
			}
			continue
		}
		p := published(res[j])
		p.Replayed = res[j].Replayed
		results[i].publishedBody = p
		a.m.Published.WithLabelValues(resultOf(res[j])).Inc()
	}
	if failed > 0 {
		a.log.LogAttrs(r.Context(), level(first), "api: batch items failed",
			slog.String("route", RouteBatch), slog.Int("failed", failed), slog.Int("items", len(ins)),
			slog.String("code", string(first.code)), slog.Any("err", first.cause))
	}
}

func cmpOr(a, b *apiError) *apiError {
	if a != nil {
		return a
	}
	return b
}

func resultOf(res stream.PublishResult) string {
	if res.Replayed {
		return resultReplayed
	}
	return resultCreated
}
