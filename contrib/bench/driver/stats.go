package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// metric is one row: samples per tool.
type metric struct {
	Name    string
	Unit    string
	Samples map[string][]float64
}

type table struct {
	rows  []*metric
	index map[string]*metric
}

func (t *table) add(name, unit, tool string, v float64) {
	if t.index == nil {
		t.index = map[string]*metric{}
	}
	m := t.index[name]
	if m == nil {
		m = &metric{Name: name, Unit: unit, Samples: map[string][]float64{}}
		t.index[name] = m
		t.rows = append(t.rows, m)
	}
	m.Samples[tool] = append(m.Samples[tool], v)
}

// quantile is the nearest-rank quantile (q in (0,1]); NaN when empty.
func quantile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if q == 0.5 && len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	k := int(math.Ceil(q*float64(len(s)))) - 1
	if k < 0 {
		k = 0
	}
	return s[k]
}

func median(v []float64) float64 { return quantile(v, 0.5) }

// ratios divides each tool's value by the smallest positive one.
func ratios(vals map[string]float64) map[string]float64 {
	best := math.Inf(1)
	for _, v := range vals {
		if v > 0 && v < best {
			best = v
		}
	}
	out := map[string]float64{}
	for k, v := range vals {
		if !math.IsInf(best, 1) && !math.IsNaN(v) {
			out[k] = v / best
		}
	}
	return out
}

func fmtNum(v float64) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// cell renders "median (ratio)"; p90 rows are added for timing metrics.
func cell(v, r float64, showRatio bool) string {
	if math.IsNaN(v) {
		return "-"
	}
	if !showRatio || r == 0 {
		return fmtNum(v)
	}
	return fmt.Sprintf("%s (%.2fx)", fmtNum(v), r)
}

// writeWide renders rows × tools (the runtime table). md selects markdown.
func (t *table) writeWide(w io.Writer, tools []string, md bool) {
	head := append([]string{"metric (median)", "unit"}, tools...)
	var lines [][]string
	for _, m := range t.rows {
		noRatio := m.Unit == "n"
		for _, q := range []float64{0.5, 0.9} {
			if q == 0.9 && (m.Unit != "ms" || len(m.Samples[tools[0]]) < 5) {
				continue
			}
			vals := map[string]float64{}
			for _, tl := range tools {
				vals[tl] = quantile(m.Samples[tl], q)
			}
			rs := ratios(vals)
			name := m.Name
			if q == 0.9 {
				name = "  p90"
			}
			row := []string{name, m.Unit}
			for _, tl := range tools {
				row = append(row, cell(vals[tl], rs[tl], !noRatio))
			}
			lines = append(lines, row)
		}
	}
	render(w, head, lines, md)
}

// writeLong renders one line per (operation, tool): the image table, where
// each operation has its own set of peers.
func (t *table) writeLong(w io.Writer, md bool) {
	head := []string{"operation", "tool", "median", "unit", "runs", "ratio to fastest"}
	var lines [][]string
	for _, m := range t.rows {
		vals := map[string]float64{}
		var tools []string
		for tl, s := range m.Samples {
			vals[tl] = median(s)
			tools = append(tools, tl)
		}
		sort.Slice(tools, func(i, j int) bool { return vals[tools[i]] < vals[tools[j]] })
		rs := ratios(vals)
		for _, tl := range tools {
			lines = append(lines, []string{m.Name, tl, fmtNum(vals[tl]), m.Unit, fmt.Sprint(len(m.Samples[tl])), fmt.Sprintf("%.2fx", rs[tl])})
		}
	}
	render(w, head, lines, md)
}

func render(w io.Writer, head []string, lines [][]string, md bool) {
	if md {
		fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(head, " | "), strings.Repeat("---|", len(head)))
		for _, l := range lines {
			fmt.Fprintf(w, "| %s |\n", strings.Join(l, " | "))
		}
		return
	}
	width := make([]int, len(head))
	for _, l := range append([][]string{head}, lines...) {
		for i, c := range l {
			if len(c) > width[i] {
				width[i] = len(c)
			}
		}
	}
	for _, l := range append([][]string{head}, lines...) {
		for i, c := range l {
			fmt.Fprintf(w, "%-*s  ", width[i], c)
		}
		fmt.Fprintln(w)
	}
}
