package numa

import (
	"slices"
	"testing"
)

func TestParseList(t *testing.T) {
	got, err := ParseList("0-2, 5", 8)
	if err != nil || !slices.Equal(got, []int{0, 1, 2, 5}) {
		t.Fatalf("ParseList = %v, %v", got, err)
	}
	for _, bad := range []string{"", "x", "3-1", "-1", "0-8"} {
		if _, err := ParseList(bad, 8); err == nil {
			t.Errorf("ParseList(%q) accepted", bad)
		}
	}
}
