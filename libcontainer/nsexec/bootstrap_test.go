package nsexec

import (
	"strings"
	"testing"
)

func TestEncodeLatePlacement(t *testing.T) {
	b := Bootstrap{CloneFlags: 0x20000, LatePlacement: true}
	out, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "\nplace\n") {
		t.Errorf("no place line in %q", out)
	}
	b.LatePlacement = false
	out, _ = b.Encode()
	if strings.Contains(string(out), "place") {
		t.Errorf("place line without LatePlacement: %q", out)
	}
}

func TestEncodeExec(t *testing.T) {
	out, err := (&Bootstrap{Exec: true}).Encode()
	if err != nil || !strings.Contains(string(out), "\nexec\n") {
		t.Fatalf("%q %v", out, err)
	}
}
