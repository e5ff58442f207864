package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/anishathalye/porcupine"
)

// historyFile is the JSON a test writes: one entry per client operation, timestamps in
// nanoseconds from any monotonic origin shared by all clients.
type historyFile struct {
	Operations []recordedOp `json:"operations"`
}

type recordedOp struct {
	Client int       `json:"client"`
	Call   int64     `json:"call"`
	Return *int64    `json:"return"` // absent for an operation that never returned
	Op     string    `json:"op"`     // put | get | cas
	Key    string    `json:"key"`
	Value  string    `json:"value"` // put/cas: the value written
	IfRev  int64     `json:"ifRev"` // cas: the If-Match revision
	Result *opResult `json:"result"`
}

// opResult is what the client saw. Unknown means the effect is uncertain (timeout, 5xx, broken
// connection): the operation may have taken effect at any time after its call, or never.
type opResult struct {
	Unknown  bool   `json:"unknown"`
	Found    bool   `json:"found"`    // get: 200 (true) or 404 (false)
	Value    string `json:"value"`    // get: the value read
	Revision int64  `json:"revision"` // get: ETag; put/cas: the revision the write got
	Mismatch bool   `json:"mismatch"` // cas: 412, nothing written
}

func readHistory(r io.Reader) ([]recordedOp, error) {
	var h historyFile
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("history is not valid JSON of the expected shape: %w", err)
	}
	for i, op := range h.Operations {
		if err := op.validate(); err != nil {
			return nil, fmt.Errorf("operation %d: %w", i, err)
		}
	}
	return h.Operations, nil
}

func (op recordedOp) validate() error {
	switch op.Op {
	case "put", "get", "cas":
	default:
		return fmt.Errorf("op must be put, get or cas, got %q", op.Op)
	}
	if op.Key == "" {
		return fmt.Errorf("key is empty")
	}
	if op.Client < 0 {
		return fmt.Errorf("client must be >= 0, got %d", op.Client)
	}
	if op.Result == nil {
		return fmt.Errorf("result is missing (use {\"unknown\":true} for an uncertain outcome)")
	}
	if !op.Result.Unknown {
		if op.Return == nil {
			return fmt.Errorf("a known result needs a return time")
		}
		if *op.Return < op.Call {
			return fmt.Errorf("returns (%d) before its call (%d)", *op.Return, op.Call)
		}
	}
	if op.Result.Mismatch && op.Op != "cas" {
		return fmt.Errorf("only cas can report a mismatch")
	}
	return nil
}

// toPorcupine groups the history by key (sorted) into porcupine operations. An unknown
// operation is given a return time after every other event, so it may linearize anywhere
// after its call (including "never", at the very end). Unknown reads change nothing and are dropped.
func toPorcupine(ops []recordedOp) (keys []string, byKey map[string][]porcupine.Operation) {
	var latest int64
	for _, op := range ops {
		latest = max(latest, op.Call)
		if op.Return != nil {
			latest = max(latest, *op.Return)
		}
	}
	byKey = map[string][]porcupine.Operation{}
	for _, op := range ops {
		if op.Result.Unknown && op.Op == "get" {
			continue
		}
		ret := latest + 1
		if !op.Result.Unknown {
			ret = *op.Return
		}
		in := kvInput{Op: op.Op, Value: op.Value, IfRev: op.IfRev}
		out := kvOutput{Unknown: op.Result.Unknown, Found: op.Result.Found, Value: op.Result.Value, Revision: op.Result.Revision, Mismatch: op.Result.Mismatch}
		if _, seen := byKey[op.Key]; !seen {
			keys = append(keys, op.Key)
		}
		byKey[op.Key] = append(byKey[op.Key], porcupine.Operation{ClientId: op.Client, Input: in, Call: op.Call, Output: out, Return: ret})
	}
	sort.Strings(keys)
	return keys, byKey
}
