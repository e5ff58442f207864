package main

import (
	"net/http"
	"sync"
	"time"
)

// Probe is one write of the failover load: wall-clock Unix milliseconds, so the orchestrator can
// line them up with the moment it killed the leader.
type Probe struct {
	StartMs float64 `json:"startMs"`
	EndMs   float64 `json:"endMs"`
	Ok      bool    `json:"ok"`
	Target  int     `json:"target"`
	Error   string  `json:"error,omitempty"`
}

type ProbeResult struct {
	Mode       string   `json:"mode"`
	System     string   `json:"system"`
	IntervalMs float64  `json:"intervalMs"`
	Targets    []string `json:"targets"`
	Probes     []Probe  `json:"probes"`
}

func unixMs(t time.Time) float64 { return float64(t.UnixNano()) / 1e6 }

// runProbe is open loop on purpose: a probe stuck on the dead leader does not delay the next one,
// so the first success after the kill is seen within one interval of when the cluster can write.
func runProbe(o options, p Protocol, prepared []Call) ProbeResult {
	clients := make([]*http.Client, len(o.targets))
	for i := range clients {
		clients[i] = newClient(o.timeout, 64)
	}
	var mu sync.Mutex
	var probes []Probe
	var wg sync.WaitGroup
	end := time.Now().Add(o.duration)
	tick := time.NewTicker(o.interval)
	defer tick.Stop()
	for n := 0; time.Now().Before(end); n++ {
		target := n % len(o.targets)
		call := prepared[n%len(prepared)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			began := time.Now()
			status, body, err := send(clients[target], o.targets[target], call)
			if err == nil {
				err = p.Check("put", status, body)
			}
			pr := Probe{StartMs: unixMs(began), EndMs: unixMs(time.Now()), Ok: err == nil, Target: target}
			if err != nil {
				pr.Error = classify(err)
			}
			mu.Lock()
			probes = append(probes, pr)
			mu.Unlock()
		}()
		<-tick.C
	}
	wg.Wait()
	return ProbeResult{Mode: "probe", System: o.system, IntervalMs: float64(o.interval.Microseconds()) / 1000, Targets: o.targets, Probes: probes}
}
