package units

import "testing"

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{
		"1024": 1024, "64m": 64 << 20, "64M": 64 << 20, "1g": 1 << 30, "512k": 512 << 10, "2GiB": 2 << 30,
		"10MB": 10 << 20, "1t": 1 << 40, " 7 ": 7, "0": 0, "100b": 100,
		// Decimals, as docker and runc take them.
		"1.5g": 3 << 29, "0.5m": 512 << 10, "1.5GiB": 3 << 29, "2.25k": 2304,
	} {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "m", "1x", "-1", "-1m", "-0.5g", "9999999999999g", "1e19", "1gb2", "1.5.5g"} {
		if got, err := ParseBytes(in); err == nil {
			t.Errorf("ParseBytes(%q) = %d, want an error", in, got)
		}
	}
}
