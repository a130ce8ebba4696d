package transport

import (
	"context"
	"testing"
	"time"
)

func TestConnSetDrain(t *testing.T) {
	var s ConnSet[int]
	for i := range 3 {
		if !s.Add(i) {
			t.Fatalf("Add(%d) refused before the drain", i)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	var closed, aborted []int
	err := s.Drain(ctx, time.Millisecond, func(c int) {
		closed = append(closed, c)
		if c != 0 {
			s.Remove(c) // 0 stays open until aborted
		}
	}, func(c int) {
		aborted = append(aborted, c)
		if c == 0 {
			s.Remove(c)
		}
	})
	if err == nil || len(closed) != 3 || len(aborted) != 3 {
		t.Fatalf("Drain = %v, closed %v, aborted %v", err, closed, aborted)
	}
	if s.Add(9) {
		t.Fatal("Add admitted a connection after the drain")
	}
	done := make(chan error, 1)
	go func() { done <- s.Wait(context.Background()) }()
	select {
	case <-done:
		t.Fatal("Wait returned with a refusal not yet removed")
	case <-time.After(20 * time.Millisecond):
	}
	s.Remove(9)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
