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

func TestCopyInput(t *testing.T) {
	type want struct {
		detached bool
		passed   string
	}
	for in, w := range map[string]want{
		"ab\x10\x11cd": {true, "ab"}, "\x10\x10\x11": {true, "\x10"}, "\x10a\x11": {false, "\x10a\x11"},
		"\x11\x10": {false, "\x11\x10"}, "line\n": {false, "line\n"},
	} {
		d := make(chan struct{})
		var got bytes.Buffer
		copyInput(&got, bytes.NewReader([]byte(in)), []byte("\x10\x11"), d)
		detached := false
		select {
		case <-d:
			detached = true
		default:
		}
		if detached != w.detached || got.String() != w.passed {
			t.Errorf("%q: detached %v, passed %q; want %+v", in, detached, got.String(), w)
		}
	}
	// No keys: everything is passed on.
	var got bytes.Buffer
	copyInput(&got, strings.NewReader("\x10\x11"), nil, make(chan struct{}))
	if got.String() != "\x10\x11" {
		t.Errorf("no keys: %q", got.String())
	}
}
