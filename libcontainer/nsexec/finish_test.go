package nsexec

import (
	"bytes"
	"flag"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite finish_steps.h from Finish")

// The constructor's order is generated from Finish: the committed header
// must be what Finish renders.
func TestFinishStepsHeader(t *testing.T) {
	want := StepsHeader()
	if *update {
		if err := os.WriteFile("finish_steps.h", want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("finish_steps.h")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("finish_steps.h is stale (rerun with -args -update):\n%s\nwant:\n%s", got, want)
	}
}

// Every constructor step has its C function, myrun_exec_process runs the
// X-macro list and nothing else, and no step function is left over.
func TestFinishStepsC(t *testing.T) {
	src, err := os.ReadFile("execproc.c")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, s := range Finish {
		if !s.GoOnly {
			want = append(want, strings.ReplaceAll(s.Name, "-", "_"))
		}
	}
	var have []string
	for _, m := range regexp.MustCompile(`(?m)^static void (?:__attribute__\(\(noreturn\)\) )?step_(\w+)\(struct process \*p\)$`).FindAllSubmatch(src, -1) {
		have = append(have, string(m[1]))
	}
	slices.Sort(have)
	sorted := slices.Clone(want)
	slices.Sort(sorted)
	if !slices.Equal(have, sorted) {
		t.Errorf("step functions in execproc.c %v, want %v", have, sorted)
	}
	body := regexp.MustCompile(`(?s)\nvoid myrun_exec_process\(void\)\n\{\n(.*?)\n\}\n`).FindSubmatch(src)
	if body == nil {
		t.Fatal("myrun_exec_process not found in execproc.c")
	}
	if !bytes.Contains(body[1], []byte("MYRUN_FINISH_STEPS(RUN_STEP)")) {
		t.Errorf("myrun_exec_process does not run MYRUN_FINISH_STEPS:\n%s", body[1])
	}
	if n := bytes.Count(body[1], []byte("step_")); n != 0 {
		t.Errorf("myrun_exec_process calls %d steps outside the generated list", n)
	}
}

func TestFinishStepNames(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range Finish {
		if seen[s.Name] || !regexp.MustCompile(`^[a-z][a-z-]*$`).MatchString(s.Name) {
			t.Errorf("bad or repeated step name %q", s.Name)
		}
		seen[s.Name] = true
	}
}

func TestEnv(t *testing.T) {
	for _, c := range []struct {
		in, out []string
		home    bool
	}{
		{nil, []string{}, true},
		{[]string{"A=1", "B=2", "A=3"}, []string{"A=3", "B=2"}, true},
		{[]string{"HOME=/h", "HOME="}, []string{"HOME="}, true},
		{[]string{"HOME=", "X=a=b", "HOME=/h"}, []string{"HOME=/h", "X=a=b"}, false},
		{[]string{"PATH=", "HOME=/"}, []string{"PATH=", "HOME=/"}, false},
	} {
		out, home := Env(c.in)
		if !slices.Equal(out, c.out) || home != c.home {
			t.Errorf("Env(%q) = %q, %v; want %q, %v", c.in, out, home, c.out, c.home)
		}
	}
	if got := SetHome([]string{"A=1", "HOME=", "B=2"}, "/x"); !slices.Equal(got, []string{"A=1", "HOME=/x", "B=2"}) {
		t.Errorf("SetHome in place: %q", got)
	}
	if got := SetHome([]string{"A=1"}, ""); !slices.Equal(got, []string{"A=1", "HOME="}) {
		t.Errorf("SetHome append: %q", got)
	}
}
