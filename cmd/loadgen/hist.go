package main

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram layout: values below 2*subCount are exact; above, each power of
// two is split into subCount buckets, so a bucket is at most 1/subCount
// (0.8 %) wide relative to its value.
const (
	subBits  = 7
	subCount = 1 << subBits
	nBuckets = subCount + (63-subBits)*subCount // int64 values have at most 63 bits
)

// hist is a log-linear histogram of non-negative int64 values (latencies in
// nanoseconds). Record is lock-free and safe for concurrent use; the other
// methods read a consistent-enough view for reporting once recording has
// stopped.
type hist struct {
	counts [nBuckets]atomic.Uint64
	n      atomic.Uint64
	max    atomic.Int64
	sum    atomic.Int64
}

// bucketOf returns the bucket index of v (v < 0 counts as 0).
func bucketOf(v int64) int {
	if v < 2*subCount {
		if v < 0 {
			return 0
		}
		return int(v)
	}
	u := uint64(v)
	shift := bits.Len64(u) - (subBits + 1)
	m := u >> shift // in [subCount, 2*subCount)
	return subCount + shift*subCount + int(m-subCount)
}

// bucketLow returns the smallest value in bucket i; bucketLow(i+1) is one
// past its largest.
func bucketLow(i int) int64 {
	if i >= nBuckets {
		return math.MaxInt64
	}
	if i < 2*subCount {
		return int64(i)
	}
	shift := (i - subCount) / subCount
	m := uint64(subCount + (i-subCount)%subCount)
	return int64(m << shift)
}

// Record adds one value.
func (h *hist) Record(v int64) {
	h.counts[bucketOf(v)].Add(1)
	h.n.Add(1)
	h.sum.Add(v)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// Count returns the number of recorded values.
func (h *hist) Count() uint64 { return h.n.Load() }

// Max returns the largest recorded value.
func (h *hist) Max() int64 { return h.max.Load() }

// Mean returns the mean of the recorded values (0 when empty).
func (h *hist) Mean() float64 {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	return float64(h.sum.Load()) / float64(n)
}

// Quantile returns the value below which a fraction q of the recorded
// values lie: the midpoint of the bucket holding the rank ceil(q*n),
// clamped to the maximum. It returns 0 when the histogram is empty.
func (h *hist) Quantile(q float64) int64 {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := rankOf(q, n)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return min(bucketMid(i), h.max.Load())
		}
	}
	return h.max.Load()
}

// rankOf is the 1-based rank of quantile q among n values (nearest-rank).
func rankOf(q float64, n uint64) uint64 {
	if q <= 0 {
		return 1
	}
	if q >= 1 {
		return n
	}
	r := uint64(q*float64(n) + 0.9999999)
	return max(1, min(r, n))
}

func bucketMid(i int) int64 {
	lo, hi := bucketLow(i), bucketLow(i+1)
	return lo + (hi-lo-1)/2
}

// Merge adds every count of o to h.
func (h *hist) Merge(o *hist) {
	for i := range o.counts {
		if c := o.counts[i].Load(); c > 0 {
			h.counts[i].Add(c)
		}
	}
	h.n.Add(o.n.Load())
	h.sum.Add(o.sum.Load())
	if m := o.max.Load(); m > h.max.Load() {
		h.max.Store(m)
	}
}

// cdfPoint is one point of a cumulative distribution.
type cdfPoint struct {
	Value    int64   // bucket upper edge
	Fraction float64 // share of values <= Value
}

// CDF returns one point per non-empty bucket, ascending.
func (h *hist) CDF() []cdfPoint {
	n := h.n.Load()
	if n == 0 {
		return nil
	}
	var out []cdfPoint
	var seen uint64
	for i := range h.counts {
		c := h.counts[i].Load()
		if c == 0 {
			continue
		}
		seen += c
		out = append(out, cdfPoint{Value: min(bucketLow(i+1)-1, h.max.Load()), Fraction: float64(seen) / float64(n)})
	}
	return out
}

// latencySummary is the usual quantiles of a latency histogram.
type latencySummary struct {
	N                        uint64
	P50, P90, P99, P999, Max time.Duration
}

func (h *hist) Summary() latencySummary {
	return latencySummary{
		N:    h.Count(),
		P50:  time.Duration(h.Quantile(0.50)),
		P90:  time.Duration(h.Quantile(0.90)),
		P99:  time.Duration(h.Quantile(0.99)),
		P999: time.Duration(h.Quantile(0.999)),
		Max:  time.Duration(h.Max()),
	}
}
