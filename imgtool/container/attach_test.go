package container

import (
	"bytes"
	"strings"
	"testing"
)

func TestParseDetachKeys(t *testing.T) {
	for in, want := range map[string]string{
		"ctrl-p,ctrl-q": "\x10\x11", "ctrl-a,x": "\x01x", "ctrl-@,ctrl-_": "\x00\x1f", "ctrl-[": "\x1b", "": "",
	} {
		got, err := ParseDetachKeys(in)
		if err != nil || string(got) != want {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"ctrl-1", "ab", "ctrl-", ",", "ctrl-p,"} {
		if _, err := ParseDetachKeys(bad); err == nil || !strings.Contains(err.Error(), "--detach-keys") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestWatchKeys(t *testing.T) {
	for in, want := range map[string]bool{"ab\x10\x11": true, "\x10\x10\x11": true, "\x10a\x11": false, "\x11\x10": false} {
		d := make(chan struct{})
		watchKeys(bytes.NewReader([]byte(in)), []byte("\x10\x11"), d)
		select {
		case <-d:
			if !want {
				t.Errorf("%q detached", in)
			}
		default:
			if want {
				t.Errorf("%q did not detach", in)
			}
		}
	}
}
