package main

import (
	"errors"
	"strings"
	"testing"
)

func TestVerdict(t *testing.T) {
	cases := []struct {
		name, out string
		exitErr   error
		timedOut  bool
		want      string // "" = pass; otherwise a substring of the reason
		silentOK  bool
	}{
		{"pass", "TAP version 13\nok 1 - a\nok 2 # SKIP b\n1..2\n", nil, false, "", false},
		{"plan first", "1..1\nok 1 - a\n", nil, false, "", false},
		{"todo is not failure", "ok 1\nnot ok 2 - x # TODO later\n1..2\n", nil, false, "", false},
		{"whole suite skip", "TAP version 13\n1..1\nok 1 # skip cgroup not found\n", nil, false, "", false},
		{"fail_ test quiet", "TAP version 13\n1..0\n", nil, false, "", false},
		{"not ok with diag", "TAP version 13\nok 1 - a\nnot ok 2 - create works\n  ---\n  {\n    \"error\": \"exit status 1\\nmore\"\n  }\n  ...\nnot ok 3 - later\n1..3\n", nil, false, "not ok 2 - create works [exit status 1]", false},
		{"stray diag on fail_ test", "TAP version 13\n  ---\n  {\n    \"error\": \"hook must warn\\nRefer to: x\"\n  }\n  ...\n1..0\n", nil, false, "hook must warn", false},
		{"no plan", "ok 1\n", nil, false, "no TAP plan", false},
		{"silent _fail pass", "", nil, false, "", true},
		{"silent but exit 1", "", errors.New("exit status 1"), false, "exit status 1", true},
		{"silent non-_fail program", "", nil, false, "no output", false},
		{"short", "ok 1\n1..3\n", nil, false, "planned 3 tests, ran 1", false},
		{"exit code", "ok 1\n1..1\n", errors.New("exit status 1"), false, "exit status 1", false},
		{"timeout", "ok 1\n", nil, true, "timed out", false},
		{"bail", "ok 1\nBail out! no runtime\n", nil, false, "Bail out! no runtime", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := verdict(parseTAP(c.out), c.exitErr, c.timedOut, "60s", "", c.silentOK)
			if c.want == "" && got != "" {
				t.Fatalf("want pass, got %q", got)
			}
			if c.want != "" && !strings.Contains(got, c.want) {
				t.Fatalf("want reason containing %q, got %q", c.want, got)
			}
		})
	}
}

func TestLastLine(t *testing.T) {
	if got := lastLine("a\nb\n\n"); got != "b" {
		t.Fatalf("got %q", got)
	}
}

func TestStderrSummary(t *testing.T) {
	cases := map[string]string{
		"": "",
		"Any value MUST error\nRefer to: https://x\n":             "Any value MUST error",
		"failed to create the container\ntime=... msg=\"boom\"\n": "failed to create the container: time=... msg=\"boom\"",
	}
	for in, want := range cases {
		if got := stderrSummary(in); got != want {
			t.Errorf("stderrSummary(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSilentOK(t *testing.T) {
	if !silentOK("process_rlimits_fail") || silentOK("process_capabilities") {
		t.Fatal("silentOK must hold only for *_fail programs")
	}
}
