package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestHandMadeHistories(t *testing.T) {
	cases := []struct {
		file string
		want int
	}{
		{"linearizable.json", 0},
		{"stale-read.json", 1},
		{"double-cas.json", 1},
		{"lost-write.json", 1},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			dir := t.TempDir()
			if got := run(filepath.Join("testdata", c.file), dir, 0); got != c.want {
				t.Fatalf("exit %d, want %d", got, c.want)
			}
			viz, _ := filepath.Glob(filepath.Join(dir, "violation-*.html"))
			if c.want == 1 && len(viz) != 1 {
				t.Fatalf("a violation should leave one visualization, found %v", viz)
			}
			if c.want == 0 && len(viz) != 0 {
				t.Fatalf("a linearizable history left a visualization: %v", viz)
			}
		})
	}
}

func TestTheStaleReadIsBlamedOnItsKey(t *testing.T) {
	dir := t.TempDir()
	if run(filepath.Join("testdata", "stale-read.json"), dir, 0) != 1 {
		t.Fatal("stale read accepted")
	}
	if _, err := os.Stat(filepath.Join(dir, "violation-x.html")); err != nil {
		t.Fatalf("no visualization for key x: %v", err)
	}
}

func TestBadInputIsRejectedWithExit2(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"not-json":     "{",
		"bad-op":       `{"operations":[{"client":0,"call":0,"return":1,"op":"inc","key":"k","result":{}}]}`,
		"no-result":    `{"operations":[{"client":0,"call":0,"return":1,"op":"get","key":"k"}]}`,
		"no-return":    `{"operations":[{"client":0,"call":0,"op":"get","key":"k","result":{"found":false}}]}`,
		"time-reverse": `{"operations":[{"client":0,"call":5,"return":1,"op":"get","key":"k","result":{"found":false}}]}`,
	} {
		p := filepath.Join(dir, name+".json")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := run(p, dir, 0); got != 2 {
			t.Errorf("%s: exit %d, want 2", name, got)
		}
	}
	if got := run(filepath.Join(dir, "missing.json"), dir, 0); got != 2 {
		t.Errorf("missing file: exit %d, want 2", got)
	}
}
