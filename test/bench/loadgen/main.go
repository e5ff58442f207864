// Command loadgen is kuorum's benchmark load generator: the same closed-loop HTTP client for
// kuorum and etcd (the protocol adapter differs, nothing else). Standard library only.
//
//	closed  N connections, each issuing requests back to back for -duration after -warmup;
//	        exact latency percentiles over every request completed in the measured window
//	fill    write keys [0, -keys) exactly once each (retrying errors), as fast as N connections go
//	probe   open loop: one write every -interval, spread over the targets, for -duration; every
//	        probe's start, end and outcome are reported (failover is computed from them)
//
// The result is one JSON object on stdout.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

type options struct {
	mode, system, op string
	targets          []string
	conns            int
	duration, warmup time.Duration
	interval         time.Duration
	timeout          time.Duration
	keys             int
	valueSize        int
	keyPrefix        string
	seed             uint64
}

func parseFlags() (options, error) {
	var o options
	var targets string
	flag.StringVar(&o.mode, "mode", "closed", "closed | fill | probe")
	flag.StringVar(&o.system, "system", "", "kuorum | etcd")
	flag.StringVar(&o.op, "op", "put", "put | get (closed mode)")
	flag.StringVar(&targets, "targets", "", "comma-separated base URLs (http://127.0.0.1:port); connection i uses target i mod len")
	flag.IntVar(&o.conns, "conns", 1, "concurrent connections (one HTTP client each)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measured time (closed, probe)")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured time before the measured window (closed)")
	flag.DurationVar(&o.interval, "interval", 10*time.Millisecond, "time between probes (probe)")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Second, "per-request timeout")
	flag.IntVar(&o.keys, "keys", 10000, "key space size")
	flag.IntVar(&o.valueSize, "value-size", 256, "value bytes")
	flag.StringVar(&o.keyPrefix, "key-prefix", "k", "key prefix (keys are prefix + 7 digits)")
	flag.Uint64Var(&o.seed, "seed", 1, "random seed")
	flag.Parse()
	for _, t := range strings.Split(targets, ",") {
		if t = strings.TrimSpace(t); t != "" {
			o.targets = append(o.targets, strings.TrimRight(t, "/"))
		}
	}
	switch {
	case len(o.targets) == 0:
		return o, fmt.Errorf("-targets is required")
	case o.conns < 1:
		return o, fmt.Errorf("-conns must be at least 1")
	case o.keys < 1:
		return o, fmt.Errorf("-keys must be at least 1")
	case o.op != "put" && o.op != "get":
		return o, fmt.Errorf("-op must be put or get")
	case o.mode != "closed" && o.mode != "fill" && o.mode != "probe":
		return o, fmt.Errorf("-mode must be closed, fill or probe")
	}
	for _, t := range o.targets {
		if _, err := newRawClient(t, o.timeout); err != nil {
			return o, err
		}
	}
	return o, nil
}

// mustRawClient is the client of one closed-loop or fill worker (its target was checked by parseFlags).
func mustRawClient(base string, timeout time.Duration) *rawClient {
	c, err := newRawClient(base, timeout)
	if err != nil {
		panic(err)
	}
	return c
}

// newClient is probe mode's net/http client for one target: up to maxConns keep-alive connections
// (probes overlap while a node does not answer; the probe's CPU per request does not matter).
func newClient(timeout time.Duration, maxConns int) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
			MaxConnsPerHost:     maxConns,
			MaxIdleConnsPerHost: maxConns,
			DisableCompression:  true,
			ForceAttemptHTTP2:   false,
		},
	}
}

func keyName(prefix string, i int) string { return fmt.Sprintf("%s%07d", prefix, i) }

// calls prepares one request per key: a put of a random value, or a get.
func calls(o options, p Protocol) []Call {
	rng := rand.New(rand.NewPCG(o.seed, 0x6b756f72))
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	out := make([]Call, o.keys)
	for i := range out {
		key := keyName(o.keyPrefix, i)
		if o.op == "get" && o.mode == "closed" {
			out[i] = p.Get(key)
			continue
		}
		v := make([]byte, o.valueSize)
		for j := range v {
			v[j] = letters[rng.IntN(len(letters))]
		}
		out[i] = p.Put(key, v)
	}
	return out
}

func main() {
	o, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	p, err := protocolFor(o.system)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	var result any
	switch o.mode {
	case "closed":
		result = runClosed(o, p, calls(o, p))
	case "fill":
		result = runFill(o, p, calls(o, p))
	case "probe":
		o.op = "put"
		result = runProbe(o, p, calls(o, p))
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(result); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}
