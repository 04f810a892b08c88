package container

import (
	"strings"
	"testing"
)

// podman top takes its descriptors as words or as one comma-separated
// word: both are refused by name (the comma form went to ps, which
// failed with "garbage option"); ps(1) options pass.
func TestRefuseDescriptors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"user", "pid", "comm"}, "descriptors (user pid comm)"},
		{[]string{"pid,user,comm"}, "descriptors (pid user comm)"},
		{[]string{"-o", "pid,user,comm"}, ""},
		{[]string{"-ef"}, ""},
		{[]string{"pid,nosuch"}, ""},
	} {
		err := refuseDescriptors(c.args)
		if (err == nil) != (c.want == "") || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.args, err, c.want)
		}
	}
}
