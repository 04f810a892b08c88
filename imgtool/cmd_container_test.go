package main

import (
	"bytes"
	"testing"
	"time"
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

// {{.State.StartedAt}} prints as podman 4.3's time.Time does (was the
// JSON string, RFC 3339); {{json .State}} keeps the JSON form.
func TestInspectFormatTimes(t *testing.T) {
	started := time.Date(2026, 12, 3, 10, 0, 0, 500000000, time.UTC)
	doc, err := inspectDoc(struct{ State podmanState }{podmanState{Status: "running", StartedAt: started}})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := writeFormatted(&b, "{{.State.StartedAt}}|{{.State.FinishedAt}}|{{json .State.StartedAt}}", []any{doc}, []any(nil), nil); err != nil {
		t.Fatal(err)
	}
	if want := "2026-12-03 10:00:00.5 +0000 UTC|0001-01-01 00:00:00 +0000 UTC|\"2026-12-03T10:00:00.5Z\"\n"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}
