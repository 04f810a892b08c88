// Command report compares critest runs of two runtimes from their ginkgo
// JSON reports (critest -ginkgo.json-report FILE).
//
//	report NAME=FILE BASELINE=FILE
//
//	report -list NAME=FILE
//
// With -list it prints one line per spec of one run, as `go test -v` does
// (`--- PASS: spec`, `--- FAIL: spec: message`, `--- SKIP: spec: reason`,
// a spec left out by -ginkgo.focus/skip not at all), then the summary
// line, and exits 1 when a spec failed (guest.sh counts these lines).
//
// For each run it prints `cri: runtime NAME` and `critest: N passed, N
// failed, N skipped`, then every spec that fails for NAME but passes for
// BASELINE (`REGRESSION spec: message`), and every spec failing for both
// (`both-fail spec: message`). It exits 1 when there is a regression or a
// report cannot be read.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// specReport is the part of ginkgo's types.SpecReport we read.
type specReport struct {
	ContainerHierarchyTexts []string
	LeafNodeText            string
	LeafNodeType            string
	State                   string
	Failure                 struct{ Message string }
}

type suiteReport struct {
	SpecReports []specReport
}

// run is one runtime's results: spec name -> state, and failure messages.
type run struct {
	Name                    string
	State, Message          map[string]string
	Passed, Failed, Skipped int
	// Skip holds the reason of specs skipped by the suite itself (Skip()
	// with a message); specs left out by a focus have none.
	Skip map[string]string
}

func parse(name string, r io.Reader) (*run, error) {
	var suites []suiteReport
	if err := json.NewDecoder(r).Decode(&suites); err != nil {
		return nil, fmt.Errorf("%s: ginkgo JSON report: %w", name, err)
	}
	res := &run{Name: name, State: map[string]string{}, Message: map[string]string{}, Skip: map[string]string{}}
	for _, s := range suites {
		for _, sp := range s.SpecReports {
			if sp.LeafNodeType != "It" {
				// Suite-level nodes: a failure there fails the run.
				if failed(sp.State) {
					res.Failed++
					key := sp.LeafNodeType
					res.State[key], res.Message[key] = "failed", firstLine(sp.Failure.Message)
				}
				continue
			}
			key := strings.TrimSpace(strings.Join(append(append([]string{}, sp.ContainerHierarchyTexts...), sp.LeafNodeText), " "))
			switch {
			case sp.State == "passed":
				res.Passed++
				res.State[key] = "passed"
			case sp.State == "skipped" || sp.State == "pending":
				res.Skipped++
				res.State[key] = "skipped"
				if m := firstLine(sp.Failure.Message); m != "" {
					res.Skip[key] = m
				}
			default:
				res.Failed++
				res.State[key] = "failed"
				res.Message[key] = firstLine(sp.Failure.Message)
			}
		}
	}
	return res, nil
}

func failed(state string) bool {
	return state != "passed" && state != "skipped" && state != "pending" && state != ""
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

func (r *run) summary() string {
	return fmt.Sprintf("critest: %d passed, %d failed, %d skipped", r.Passed, r.Failed, r.Skipped)
}

// compare lists the specs failing in r that pass in base (regressions)
// and the ones failing in both.
func compare(r, base *run) (regressions, both []string) {
	for k, st := range r.State {
		if st != "failed" {
			continue
		}
		switch base.State[k] {
		case "failed":
			both = append(both, k)
		case "passed":
			regressions = append(regressions, k)
		}
	}
	sort.Strings(regressions)
	sort.Strings(both)
	return regressions, both
}

func load(arg string) (*run, error) {
	name, file, ok := strings.Cut(arg, "=")
	if !ok {
		return nil, fmt.Errorf("argument %q: want NAME=FILE", arg)
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parse(name, f)
}

// list writes r's specs in go test -v's shape, sorted; focus-filtered
// skips are left out.
func (r *run) list(w io.Writer) {
	keys := make([]string, 0, len(r.State))
	for k := range r.State {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch r.State[k] {
		case "passed":
			fmt.Fprintf(w, "--- PASS: %s\n", k)
		case "failed":
			fmt.Fprintf(w, "--- FAIL: %s: %s\n", k, r.Message[k])
		default:
			if why, ok := r.Skip[k]; ok {
				fmt.Fprintf(w, "--- SKIP: %s: %s\n", k, why)
			}
		}
	}
	fmt.Fprintln(w, r.summary())
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == "-list" {
		r, err := load(os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			os.Exit(1)
		}
		r.list(os.Stdout)
		if r.Failed > 0 {
			os.Exit(1)
		}
		return
	}
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: report NAME=FILE BASELINE=FILE")
		os.Exit(2)
	}
	var runs []*run
	for _, a := range os.Args[1:] {
		r, err := load(a)
		if err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			os.Exit(1)
		}
		runs = append(runs, r)
	}
	for _, r := range runs {
		fmt.Printf("cri: runtime %s\n%s\n", r.Name, r.summary())
	}
	reg, both := compare(runs[0], runs[1])
	for _, k := range reg {
		fmt.Printf("REGRESSION %s (fails with %s, passes with %s): %s\n", k, runs[0].Name, runs[1].Name, runs[0].Message[k])
	}
	for _, k := range both {
		fmt.Printf("both-fail %s: %s\n", k, runs[0].Message[k])
	}
	for k, st := range runs[1].State {
		if st == "failed" && runs[0].State[k] == "passed" {
			fmt.Printf("only-%s-fails %s: %s\n", runs[1].Name, k, runs[1].Message[k])
		}
	}
	if len(reg) > 0 {
		os.Exit(1)
	}
}
