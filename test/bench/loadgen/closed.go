package main

import (
	"math/rand/v2"
	"sync"
	"syscall"
	"time"
)

func ownCPUSeconds() float64 {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		return -1
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano()).Seconds()
}

// ClosedResult is one cell of the table: throughput and latency over the measured window.
type ClosedResult struct {
	Mode          string         `json:"mode"`
	System        string         `json:"system"`
	Op            string         `json:"op"`
	Conns         int            `json:"conns"`
	Targets       []string       `json:"targets"`
	WindowSec     float64        `json:"windowSec"`
	Ok            int            `json:"ok"`
	Errors        int            `json:"errors"`
	ErrorKinds    map[string]int `json:"errorKinds"`
	ThroughputOps float64        `json:"throughputOps"`
	Latency       LatencySummary `json:"latency"`
	// CPUSec is the generator's own CPU time (user + system) over its whole run: what it took
	// from the machine it shares with the servers.
	CPUSec float64 `json:"cpuSec"`
}

type workerTally struct {
	latencies []time.Duration
	errors    map[string]int
}

// runClosed: each connection sends its next request as soon as the previous reply arrived. Only
// requests that start and finish inside [warmup end, end) count, so the window is exact.
func runClosed(o options, p Protocol, prepared []Call) ClosedResult {
	start := time.Now()
	measureFrom := start.Add(o.warmup)
	end := measureFrom.Add(o.duration)
	tallies := make([]workerTally, o.conns)
	var wg sync.WaitGroup
	for w := 0; w < o.conns; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			client := mustRawClient(o.targets[w%len(o.targets)], o.timeout)
			defer client.close()
			rng := rand.New(rand.NewPCG(o.seed, uint64(w)+1))
			t := &tallies[w]
			t.errors = map[string]int{}
			for {
				began := time.Now()
				if !began.Before(end) {
					return
				}
				status, body, err := client.do(prepared[rng.IntN(len(prepared))])
				if err == nil {
					err = p.Check(o.op, status, body)
				}
				done := time.Now()
				counted := !began.Before(measureFrom) && done.Before(end)
				if err != nil {
					if counted {
						t.errors[classify(err)]++
					}
					time.Sleep(10 * time.Millisecond) // no hot spin against a node that refuses
					continue
				}
				if counted {
					t.latencies = append(t.latencies, done.Sub(began))
				}
			}
		}(w)
	}
	wg.Wait()
	var all []time.Duration
	kinds := map[string]int{}
	errs := 0
	for _, t := range tallies {
		all = append(all, t.latencies...)
		for k, n := range t.errors {
			kinds[k] += n
			errs += n
		}
	}
	window := o.duration.Seconds()
	return ClosedResult{
		Mode: "closed", System: o.system, Op: o.op, Conns: o.conns, Targets: o.targets,
		WindowSec: window, Ok: len(all), Errors: errs, ErrorKinds: kinds,
		ThroughputOps: float64(len(all)) / window, Latency: summarize(all), CPUSec: ownCPUSeconds(),
	}
}
