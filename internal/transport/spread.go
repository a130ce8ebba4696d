package transport

import (
	"context"
	"time"
)

// Spread calls f(0) .. f(n-1), the calls spread evenly over d (the first
// at once), so that connections closed for a drain do not all reconnect
// in the same instant. Once ctx ends, the remaining calls follow at once.
func Spread(ctx context.Context, n int, d time.Duration, f func(i int)) {
	step := time.Duration(0)
	if n > 1 {
		step = d / time.Duration(n)
	}
	for i := range n {
		if i > 0 && step > 0 {
			t := time.NewTimer(step)
			select {
			case <-t.C:
			case <-ctx.Done():
			}
			t.Stop()
		}
		f(i)
	}
}
