package units

import "testing"

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{
		"1024": 1024, "64m": 64 << 20, "64M": 64 << 20, "1g": 1 << 30, "512k": 512 << 10, "2GiB": 2 << 30,
		"10MB": 10 << 20, "1t": 1 << 40, " 7 ": 7, "0": 0, "100b": 100,
	} {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "m", "1x", "-1", "-1m", "9999999999999g", "1.5g"} {
		if got, err := ParseBytes(in); err == nil {
			t.Errorf("ParseBytes(%q) = %d, want an error", in, got)
		}
	}
}
