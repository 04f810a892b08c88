package initproc

import "testing"

func TestParseCPUList(t *testing.T) {
	for in, want := range map[string][]int{"0": {0}, "0-2,5": {0, 1, 2, 5}, " 3 , 1-1": {1, 3}} {
		set, err := ParseCPUList(in)
		if err != nil || set.Count() != len(want) {
			t.Errorf("%q: %v count %d", in, err, set.Count())
			continue
		}
		for _, c := range want {
			if !set.IsSet(c) {
				t.Errorf("%q: cpu %d not set", in, c)
			}
		}
	}
	for _, in := range []string{"", "a", "3-1", "-1", "0-", "99999", "1,,2"} {
		if _, err := ParseCPUList(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}
