package progress

import (
	"bytes"
	"testing"
)

// Off a terminal every step is a line; quiet prints nothing.
func TestStepsWithoutTerminal(t *testing.T) {
	var out bytes.Buffer
	r := &Reporter{out: &out}
	step := r.Steps("unpack", 2)
	step("Applied layer %s", "aaa")
	step("Applied layer %s", "bbb")
	if out.String() != "Applied layer aaa\nApplied layer bbb\n" {
		t.Fatalf("got %q", out.String())
	}
	out.Reset()
	(&Reporter{out: &out, quiet: true}).Steps("unpack", 2)("x")
	if out.Len() != 0 {
		t.Fatalf("quiet printed %q", out.String())
	}
}

// On a terminal the steps advance one bar (cleared when it is full).
func TestStepsOnTerminal(t *testing.T) {
	var out bytes.Buffer
	r := &Reporter{out: &out, tty: true}
	step := r.Steps("unpack", 3)
	for i := 0; i < 3; i++ {
		step("layer %d", i)
	}
	for _, want := range []string{"(1/3)", "(2/3)", "unpack: layer 2"} {
		if !bytes.Contains(out.Bytes(), []byte(want)) {
			t.Fatalf("bar lacks %q: %q", want, out.String())
		}
	}
}
