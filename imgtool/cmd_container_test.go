package main

import (
	"bytes"
	"testing"
)

// inspect -f prints numbers as the JSON has them: a pid above 999999
// (pid_max is 4194304 on 64-bit hosts) and image sizes were printed in
// float64's %v, e.g. 4.194303e+06.
func TestInspectFormatNumbers(t *testing.T) {
	doc, err := inspectDoc(struct {
		State struct{ Pid, ExitCode int }
		Size  int64
	}{State: struct{ Pid, ExitCode int }{4194303, 137}, Size: 2132715})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := writeFormatted(&b, "{{.State.Pid}} {{.State.ExitCode}} {{.Size}} {{json .State}}", []any{doc}, []any(nil), nil); err != nil {
		t.Fatal(err)
	}
	if want := "4194303 137 2132715 {\"ExitCode\":137,\"Pid\":4194303}\n"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}
