package main

import "testing"

// Memory flags take units (specs/units, decimals too) and -1 for unlimited.
func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"64m": 64 << 20, "-1": -1, "1024": 1024, "1.5g": 3 << 29} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"-2", "-1m", "lots"} {
		if _, err := parseBytes(in); err == nil {
			t.Errorf("parseBytes(%q): no error", in)
		}
	}
}
