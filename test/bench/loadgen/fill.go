package main

import (
	"sync"
	"sync/atomic"
	"time"
)

// FillResult: how long writing every key once took, and how many keys never got written.
type FillResult struct {
	Mode          string         `json:"mode"`
	System        string         `json:"system"`
	Keys          int            `json:"keys"`
	Conns         int            `json:"conns"`
	ElapsedSec    float64        `json:"elapsedSec"`
	ThroughputOps float64        `json:"throughputOps"`
	Failed        int            `json:"failed"`
	Retries       int            `json:"retries"`
	ErrorKinds    map[string]int `json:"errorKinds"`
}

// fillRetryFor bounds how long one key is retried: long enough to ride out a leader election.
const fillRetryFor = 20 * time.Second

func runFill(o options, p Protocol, prepared []Call) FillResult {
	var next, failed, retries atomic.Int64
	var mu sync.Mutex
	kinds := map[string]int{}
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < o.conns; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			client := mustRawClient(o.targets[w%len(o.targets)], o.timeout)
			defer client.close()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(prepared) {
					return
				}
				first := time.Now()
				for {
					status, body, err := client.do(prepared[i])
					if err == nil {
						err = p.Check("put", status, body)
					}
					if err == nil {
						break
					}
					mu.Lock()
					kinds[classify(err)]++
					mu.Unlock()
					if time.Since(first) > fillRetryFor {
						failed.Add(1)
						break
					}
					retries.Add(1)
					time.Sleep(100 * time.Millisecond)
				}
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	return FillResult{
		Mode: "fill", System: o.system, Keys: len(prepared), Conns: o.conns, ElapsedSec: elapsed,
		ThroughputOps: float64(len(prepared)) / elapsed, Failed: int(failed.Load()),
		Retries: int(retries.Load()), ErrorKinds: kinds,
	}
}
