package main

import (
	"math"
	"sort"
	"time"
)

// LatencySummary is what the orchestrator reads: milliseconds, exact over every recorded sample.
type LatencySummary struct {
	Count  int     `json:"count"`
	MeanMs float64 `json:"meanMs"`
	P50Ms  float64 `json:"p50Ms"`
	P90Ms  float64 `json:"p90Ms"`
	P99Ms  float64 `json:"p99Ms"`
	P999Ms float64 `json:"p999Ms"`
	MaxMs  float64 `json:"maxMs"`
}

// percentile is the nearest-rank percentile of an ascending slice: the smallest sample such that
// at least p percent of the samples are at or below it. Zero for an empty slice.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	if rank < 1 {
		rank = 1
	}
	if rank > n {
		rank = n
	}
	return sorted[rank-1]
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

func summarize(samples []time.Duration) LatencySummary {
	sorted := append([]time.Duration(nil), samples...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	s := LatencySummary{Count: len(sorted)}
	if len(sorted) == 0 {
		return s
	}
	var total time.Duration
	for _, d := range sorted {
		total += d
	}
	s.MeanMs = ms(total) / float64(len(sorted))
	s.P50Ms = ms(percentile(sorted, 50))
	s.P90Ms = ms(percentile(sorted, 90))
	s.P99Ms = ms(percentile(sorted, 99))
	s.P999Ms = ms(percentile(sorted, 99.9))
	s.MaxMs = ms(sorted[len(sorted)-1])
	return s
}
