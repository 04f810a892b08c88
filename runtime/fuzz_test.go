package main

import (
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// FuzzParseSignal: `myrun kill ID SIG` accepts names with or without SIG,
// any case, and numbers 0-64 as strconv reads them (0, also spelled "-0"
// or "+0" as runc takes it: only check that it runs); everything else is
// an error quoting it.
func FuzzParseSignal(f *testing.F) {
	for _, s := range []string{"KILL", "SIGKILL", "kill", "9", "0", "65", "-9", "+9", "TERM", "SIGRTMIN", "RTMIN+3", "SIG", "", "sigusr1", "09", "1e1", " 9", "-0", "+0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sig, err := parseSignal(s)
		if err != nil {
			if !strings.Contains(err.Error(), strconv.Quote(s)) {
				t.Fatalf("error does not quote %q: %v", s, err)
			}
			return
		}
		n, nerr := strconv.Atoi(s)
		if sig < 0 || sig > 64 || (sig == 0 && (nerr != nil || n != 0)) {
			t.Fatalf("%q -> signal %d out of range", s, sig)
		}
		if nerr != nil {
			// By name: the name must be the signal's own.
			name := strings.ToUpper(s)
			if !strings.HasPrefix(name, "SIG") {
				name = "SIG" + name
			}
			if unix.SignalNum(name) != sig {
				t.Fatalf("%q -> %d, but %s is %d", s, sig, name, unix.SignalNum(name))
			}
		}
	})
}
