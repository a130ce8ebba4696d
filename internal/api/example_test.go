package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/alarmgate/alarmgate/internal/api"
	"github.com/alarmgate/alarmgate/internal/auth"
	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/protocol"
)

// oneAlarmStore accepts every alarm with id 1732530000000-0.
type oneAlarmStore struct{}

func (oneAlarmStore) Publish(_ context.Context, in stream.PublishInput) (stream.PublishResult, error) {
	return stream.PublishResult{ID: protocol.MustParseID("1732530000000-0"), Channel: in.Channel, Epoch: "e7f"}, nil
}

func (s oneAlarmStore) PublishBatch(ctx context.Context, ins []stream.PublishInput) ([]stream.PublishResult, []error) {
	res := make([]stream.PublishResult, len(ins))
	for i, in := range ins {
		res[i], _ = s.Publish(ctx, in)
	}
	return res, make([]error, len(ins))
}

func (oneAlarmStore) ListAlarms(context.Context, string, protocol.ID, int) (stream.Listing, error) {
	return stream.Listing{Epoch: "e7f", Complete: true}, nil
}

func Example() {
	keys, err := auth.NewKeys([]string{"publish-key"})
	if err != nil {
		panic(err)
	}
	a, err := api.New(api.Config{}, oneAlarmStore{}, keys, nil, nil)
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	a.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/alarms",
		strings.NewReader(`{"channel":"user:42","event":"order.shipped","data":{"order":7}}`))
	req.Header.Set("Authorization", "Bearer publish-key")
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	srv.Client().CloseIdleConnections()
	fmt.Print(resp.StatusCode, " ", string(body))
	// Output: 201 {"id":"1732530000000-0","channel":"user:42","epoch":"e7f"}
}
