package main

import (
	"strings"
	"testing"
)

// podman's ps cuts a command at 17 bytes, adding "...", table and
// {{.Command}} alike (was 19 and "…" in the table only).
func TestPsCommandColumn(t *testing.T) {
	long := []string{"sh", "-c", "echo aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}
	if got := psCommandColumn(long, false); got != "sh -c echo aaaaaa..." {
		t.Errorf("cut: %q", got)
	}
	if got := psCommandColumn(long, true); got != strings.Join(long, " ") {
		t.Errorf("--no-trunc: %q", got)
	}
	if got := psCommandColumn([]string{"sh", "-c", "exit 4"}, false); got != "sh -c exit 4" {
		t.Errorf("short: %q", got)
	}
}
