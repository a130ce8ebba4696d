package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketRoundTrip(t *testing.T) {
	for _, v := range []int64{0, 1, 127, 128, 255, 256, 257, 1000, 123456, 1 << 30, 1<<40 + 12345, 1<<62 + 5, math.MaxInt64} {
		i := bucketOf(v)
		lo, hi := bucketLow(i), bucketLow(i+1)
		if v < lo || (i+1 < nBuckets && v >= hi) {
			t.Errorf("bucketOf(%d) = %d holding [%d, %d)", v, i, lo, hi)
		}
		if v >= 256 && float64(hi-lo)/float64(lo) > 1.0/subCount+1e-12 {
			t.Errorf("bucket of %d is %d wide, more than 1/%d of %d", v, hi-lo, subCount, lo)
		}
	}
	if got := bucketOf(-5); got != 0 {
		t.Errorf("bucketOf(-5) = %d, want 0", got)
	}
}

func TestBucketsContiguous(t *testing.T) {
	for i := 0; i < nBuckets-1; i++ {
		if bucketLow(i) >= bucketLow(i+1) {
			t.Fatalf("bucketLow(%d)=%d >= bucketLow(%d)=%d", i, bucketLow(i), i+1, bucketLow(i+1))
		}
		if bucketOf(bucketLow(i)) != i {
			t.Fatalf("bucketOf(bucketLow(%d)) = %d", i, bucketOf(bucketLow(i)))
		}
	}
}

func TestRankOf(t *testing.T) {
	tests := []struct {
		q    float64
		n    uint64
		want uint64
	}{
		{0, 10, 1}, {0.5, 10, 5}, {0.5, 11, 6}, {0.99, 100, 99}, {0.999, 1000, 999},
		{0.999, 100, 100}, {1, 7, 7}, {0.1, 1, 1}, {0.991, 100, 100},
	}
	for _, tt := range tests {
		if got := rankOf(tt.q, tt.n); got != tt.want {
			t.Errorf("rankOf(%v, %d) = %d, want %d", tt.q, tt.n, got, tt.want)
		}
	}
}

func TestQuantileExactSmall(t *testing.T) {
	var h hist
	for v := int64(1); v <= 100; v++ {
		h.Record(v)
	}
	tests := []struct {
		q    float64
		want int64
	}{{0.5, 50}, {0.99, 99}, {0.999, 100}, {0, 1}, {1, 100}}
	for _, tt := range tests {
		if got := h.Quantile(tt.q); got != tt.want {
			t.Errorf("Quantile(%v) = %d, want %d", tt.q, got, tt.want)
		}
	}
	if h.Count() != 100 || h.Max() != 100 || h.Mean() != 50.5 {
		t.Errorf("count %d max %d mean %v", h.Count(), h.Max(), h.Mean())
	}
}

func TestQuantileAgainstSort(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var h hist
	vals := make([]int64, 20000)
	for i := range vals {
		vals[i] = int64(r.ExpFloat64() * float64(time.Millisecond))
		h.Record(vals[i])
	}
	slices.Sort(vals)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		exact := vals[rankOf(q, uint64(len(vals)))-1]
		got := h.Quantile(q)
		if diff := float64(got-exact) / float64(exact); diff > 0.01 || diff < -0.01 {
			t.Errorf("Quantile(%v) = %d, exact %d (%.2f%% off)", q, got, exact, 100*diff)
		}
	}
}

func TestEmptyHist(t *testing.T) {
	var h hist
	if h.Quantile(0.5) != 0 || h.Mean() != 0 || h.CDF() != nil {
		t.Error("empty histogram should report zeros")
	}
	if s := h.Summary(); s.N != 0 || s.P99 != 0 {
		t.Errorf("Summary() = %+v", s)
	}
}

func TestMergeAndCDF(t *testing.T) {
	var a, b hist
	for v := int64(0); v < 1000; v++ {
		a.Record(v * 1000)
		b.Record(v*1000 + 500_000)
	}
	a.Merge(&b)
	if a.Count() != 2000 || a.Max() != b.Max() {
		t.Fatalf("merged count %d max %d", a.Count(), a.Max())
	}
	cdf := a.CDF()
	for i := 1; i < len(cdf); i++ {
		if cdf[i].Value <= cdf[i-1].Value || cdf[i].Fraction < cdf[i-1].Fraction {
			t.Fatalf("CDF not increasing at %d: %+v %+v", i, cdf[i-1], cdf[i])
		}
	}
	if last := cdf[len(cdf)-1]; last.Fraction != 1 || last.Value != a.Max() {
		t.Errorf("last CDF point %+v, want fraction 1 at %d", last, a.Max())
	}
}
