package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestQuantile(t *testing.T) {
	v := []float64{5, 1, 4, 2, 3}
	if got := median(v); got != 3 {
		t.Fatalf("median = %v, want 3", got)
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Fatalf("even median = %v, want 2.5", got)
	}
	if got := quantile(v, 0.9); got != 5 {
		t.Fatalf("p90 = %v, want 5", got)
	}
	if !math.IsNaN(median(nil)) {
		t.Fatal("median of nothing must be NaN")
	}
	if v[0] != 5 {
		t.Fatal("quantile sorted its input in place")
	}
}

func TestRatios(t *testing.T) {
	r := ratios(map[string]float64{"a": 10, "b": 5, "c": math.NaN(), "d": 0})
	if r["a"] != 2 || r["b"] != 1 {
		t.Fatalf("ratios = %v", r)
	}
	if _, ok := r["c"]; ok {
		t.Fatal("NaN must have no ratio")
	}
}

func TestWideTable(t *testing.T) {
	var tb table
	for i := 0; i < 6; i++ {
		tb.add("run", "ms", "fast", 10)
		tb.add("run", "ms", "slow", 30)
	}
	tb.add("leaks", "n", "fast", 0)
	var w bytes.Buffer
	tb.writeWide(&w, []string{"fast", "slow"}, true)
	out := w.String()
	for _, want := range []string{"| run | ms | 10.0 (1.00x) | 30.0 (3.00x) |", "|   p90 |", "| leaks | n | 0.00 | - |"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestUpdateDoc(t *testing.T) {
	p := filepath.Join(t.TempDir(), "b.md")
	os.WriteFile(p, []byte("intro\n"+docBegin+"\nold\n"+docEnd+"\nafter\n"), 0o644)
	if err := updateDoc(p, "new\n"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	if s := string(b); strings.Contains(s, "old") || !strings.Contains(s, "new\n"+docEnd+"\nafter") {
		t.Fatalf("doc = %q", s)
	}
	os.WriteFile(p, []byte("no markers"), 0o644)
	if updateDoc(p, "x") == nil {
		t.Fatal("missing markers must be an error")
	}
}
