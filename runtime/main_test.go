package main

import (
	"bytes"
	"context"
	"runtime"
	"strings"
	"testing"

	"github.com/urfave/cli/v3"
)

// Every verb but init runs with one P (main.go's init; the test binary
// is not "myrun init", so it is set here too).
func TestVerbsRunWithOneP(t *testing.T) {
	if n := runtime.GOMAXPROCS(0); n != 1 {
		t.Fatalf("GOMAXPROCS %d, want 1", n)
	}
}

// verbOf finds the verb after global flags it can skip, and gives up
// (whole command tree) on anything it cannot be sure of.
func TestVerbOf(t *testing.T) {
	for args, want := range map[string]string{
		"myrun state x":                        "state",
		"myrun --root /r state x":              "state",
		"myrun --root=/r --debug exec x true":  "exec",
		"myrun -root /r --debug=false kill x":  "kill",
		"myrun --log /l --log-format json run": "run",
		"myrun --systemd-cgroup delete -f x":   "delete",
		"myrun --root state":                   "", // --root takes "state" as its value
		"myrun --help state":                   "",
		"myrun --version":                      "",
		"myrun --bogus state x":                "",
		"myrun help state":                     "",
		"myrun statee x":                       "",
		"myrun -- state x":                     "",
		"myrun":                                "",
	} {
		c := verbOf(newApp(), strings.Fields(args))
		got := ""
		if c != nil {
			got = c.Name
		}
		if got != want {
			t.Errorf("verbOf(%q) = %q, want %q", args, got, want)
		}
	}
}

// A verb's help and usage errors are the same with only that verb in the
// tree as with all of them.
func TestOneVerbTreeSameOutput(t *testing.T) {
	run := func(one bool, args []string) string {
		app := newApp()
		if c := verbOf(app, args); one && c != nil {
			app.Commands = []*cli.Command{c}
		}
		var out bytes.Buffer
		app.Writer, app.ErrWriter = &out, &out
		err := app.Run(context.Background(), args)
		return out.String() + "\nerr: " + errString(err)
	}
	for _, c := range newApp().Commands {
		for _, args := range [][]string{{"myrun", c.Name, "--help"}, {"myrun", "--root", "/nonexistent", c.Name, "--no-such-flag"}} {
			full, one := run(false, args), run(true, args)
			if full != one {
				t.Errorf("%q: whole tree:\n%s\none verb:\n%s", args, full, one)
			}
			if !strings.Contains(full, c.Name) {
				t.Errorf("%q: output does not name the verb:\n%s", args, full)
			}
		}
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
