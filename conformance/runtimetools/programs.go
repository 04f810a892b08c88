package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// optInPrefix marks programs that create cgroups relative to the caller's own
// cgroup (not ours to touch): they run only with RELATIVE_CGROUPS=1.
const optInPrefix = "linux_cgroups_relative_"

// racy lists programs whose verdict depends on scheduling for every
// runtime, with the reason; a failure of one is retried (attempts in all).
// poststart and poststart_fail want the container's `echo >> output` to
// land before the poststart hook's own `echo >> output`, but the spec only
// orders the hook after the process starts: both then race (crun loses
// poststart_fail about one run in two here, myrun lost poststart once in
// ~20 full runs under load).
var racy = map[string]string{
	"poststart":      "the hook's echo races the container process's echo",
	"poststart_fail": "the hooks' echoes race the container process's echo",
	"killsig":        "kill follows status running at once, and can reach sh before its trap is set (the default action then ends sh)",
}

const racyAttempts = 3

// attempts is how often a failing program is run before it counts as failed.
func attempts(name string) int {
	if _, ok := racy[name]; ok {
		return racyAttempts
	}
	return 1
}

// listPrograms returns the validation program names (validation/<name>/).
func listPrograms(srcDir string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(srcDir, "validation"))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if e.IsDir() && e.Name() != "util" {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// planned is one program and whether it runs.
type planned struct {
	Name string
	Skip string // reason when not run
}

// selectPrograms applies ONLY and the opt-in rule. Unknown names in only
// are an error so a typo cannot silently shrink CI's run.
func selectPrograms(all []string, only string, relative bool) ([]planned, error) {
	known := map[string]bool{}
	for _, n := range all {
		known[n] = true
	}
	want := map[string]bool{}
	for _, n := range strings.FieldsFunc(only, func(r rune) bool { return r == ' ' || r == ',' || r == '\n' || r == '\t' }) {
		if !known[n] {
			return nil, fmt.Errorf("ONLY: unknown validation program %q", n)
		}
		want[n] = true
	}
	var out []planned
	for _, n := range all {
		if len(want) > 0 && !want[n] {
			continue
		}
		p := planned{Name: n}
		if strings.HasPrefix(n, optInPrefix) && !relative {
			p.Skip = "creates cgroups under the caller's cgroup; set RELATIVE_CGROUPS=1 to run"
		}
		out = append(out, p)
	}
	return out, nil
}
