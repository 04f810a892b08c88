package main

import (
	"fmt"
	"io"
	"math"
)

// target is one goal of issue 18: myrun's median of a row, either as a
// ratio to crun's median (at most limit) or as an absolute value.
type target struct {
	name  string
	row   string
	limit float64
	abs   bool // limit is in the row's unit, not a ratio to crun
	fewer bool // count target: at most crun's value (threads)
}

func (b *bench) targets() []target {
	burst := fmt.Sprintf("burst %d create+start (%d par.)", b.burst, b.workers)
	del := fmt.Sprintf("burst %d delete --force", b.burst)
	return []target{
		{name: "run", row: "run /bin/true", limit: 1.0},
		{name: "create", row: "create", limit: 1.0},
		{name: "start", row: "start", limit: 1.0},
		{name: "delete", row: "delete", limit: 1.0},
		{name: "state", row: "state", limit: 1.0},
		{name: "exec", row: "exec /bin/true", limit: 1.0},
		{name: "CPU per run (incl. init)", row: "run CPU (user+sys)", limit: 1.2},
		{name: "CPU per exec", row: "exec CPU (user+sys)", limit: 1.2},
		{name: "burst create+start", row: burst, limit: 1.0},
		{name: "burst delete", row: del, limit: 1.0},
		{name: "syscalls per run", row: "syscalls: run", limit: 1.5},
		{name: "threads per run (no unneeded thread)", row: "threads: run", fewer: true},
		{name: "peak RSS of any verb", row: "peak RSS (max, any verb)", limit: 5, abs: true},
	}
}

// targetLines evaluates the targets from the runtime table's medians.
func (b *bench) targetLines() [][]string {
	var lines [][]string
	for _, t := range b.targets() {
		m := b.rt.index[t.row]
		mine, theirs := math.NaN(), math.NaN()
		unit := ""
		if m != nil {
			mine, theirs, unit = median(m.Samples["myrun"]), median(m.Samples["crun"]), m.Unit
		}
		ratio := mine / theirs
		var limit, measured, status string
		switch {
		case t.abs:
			limit = fmt.Sprintf("<= %s %s", fmtNum(t.limit), unit)
			measured = fmt.Sprintf("%s %s", fmtNum(mine), unit)
			status = verdict(!math.IsNaN(mine), mine <= t.limit)
		case t.fewer:
			limit = "<= crun's"
			measured = fmt.Sprintf("%s vs %s", fmtNum(mine), fmtNum(theirs))
			status = verdict(!math.IsNaN(mine) && !math.IsNaN(theirs), mine <= theirs)
		default:
			limit = fmt.Sprintf("<= %.1fx crun", t.limit)
			measured = fmt.Sprintf("%s vs %s %s (%.2fx)", fmtNum(mine), fmtNum(theirs), unit, ratio)
			status = verdict(!math.IsNaN(ratio) && !math.IsInf(ratio, 0), ratio <= t.limit)
		}
		lines = append(lines, []string{t.name, limit, measured, status})
	}
	return lines
}

func verdict(known, ok bool) string {
	switch {
	case !known:
		return "not measured"
	case ok:
		return "met"
	default:
		return "MISSED"
	}
}

func (b *bench) writeTargets(w io.Writer, md bool) {
	render(w, []string{"target (issue 18)", "limit", "myrun vs crun (medians)", "status"}, b.targetLines(), md)
}
