// Command linearizability checks a kuorum client history (JSON, see history.go) against a
// key-value register model with porcupine, one key at a time.
//
//	linearizability -history h.json [-viz-dir DIR] [-timeout 60s]
//
// Exit 0: linearizable. Exit 1: not linearizable; the offending key and an HTML visualization
// path are printed. Exit 2: bad input, or the search did not finish within the timeout.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

func main() {
	historyPath := flag.String("history", "", "history JSON file (required)")
	vizDir := flag.String("viz-dir", "", "where to write the visualization of a violation (default: next to the history)")
	timeout := flag.Duration("timeout", 60*time.Second, "longest search per key")
	flag.Parse()
	if *historyPath == "" {
		fmt.Fprintln(os.Stderr, "linearizability: -history is required")
		os.Exit(2)
	}
	if *vizDir == "" {
		*vizDir = filepath.Dir(*historyPath)
	}
	os.Exit(run(*historyPath, *vizDir, *timeout))
}

func run(historyPath, vizDir string, timeout time.Duration) int {
	f, err := os.Open(historyPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "linearizability: %v\n", err)
		return 2
	}
	defer f.Close()
	ops, err := readHistory(f)
	if err != nil {
		fmt.Fprintf(os.Stderr, "linearizability: %s: %v\n", historyPath, err)
		return 2
	}
	keys, byKey := toPorcupine(ops)
	model := kvModel()
	for _, key := range keys {
		result, info := porcupine.CheckOperationsVerbose(model, byKey[key], timeout)
		switch result {
		case porcupine.Ok:
			continue
		case porcupine.Unknown:
			fmt.Fprintf(os.Stderr, "linearizability: key %q: no answer within %s (%d operations)\n", key, timeout, len(byKey[key]))
			return 2
		}
		viz := filepath.Join(vizDir, "violation-"+safeName(key)+".html")
		if err := porcupine.VisualizePath(model, info, viz); err != nil {
			fmt.Fprintf(os.Stderr, "linearizability: writing the visualization: %v\n", err)
			viz = "(none)"
		}
		fmt.Printf("NOT linearizable: key %q (%d operations); visualization: %s\n", key, len(byKey[key]), viz)
		return 1
	}
	fmt.Printf("linearizable: %d operations on %d keys\n", len(ops), len(keys))
	return 0
}

func kvModel() porcupine.Model {
	nd := porcupine.NondeterministicModel{
		Init: func() []interface{} { return []interface{}{kvState{}} },
		Step: func(state, input, output interface{}) []interface{} {
			var next []interface{}
			for _, s := range stepKV(state.(kvState), input.(kvInput), output.(kvOutput)) {
				next = append(next, s)
			}
			return next
		},
		DescribeOperation: func(input, output interface{}) string { return describeOp(input.(kvInput), output.(kvOutput)) },
		DescribeState:     func(state interface{}) string { return describeState(state.(kvState)) },
	}
	return nd.ToModel()
}

func safeName(key string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, key)
}
