package progress

import (
	"bytes"
	"io"
	"testing"
	"time"
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

// No rate before MinRateWindow (a first chunk is not a transfer rate),
// then bytes over elapsed time.
func TestMeterRate(t *testing.T) {
	if r := Rate(64<<20, time.Millisecond); r != "" {
		t.Fatalf("rate after 1ms = %q, want none", r)
	}
	if r := Rate(300e6, 2*time.Second); r != "150.0 MB/s" {
		t.Fatalf("Rate = %q", r)
	}
	now := time.Unix(1000, 0)
	m := &Meter{what: "COPY", out: &bytes.Buffer{}, now: func() time.Time { return now }}
	m.start = now
	m.Add(3, 5e6)
	if l := m.Line(); l != "COPY: 3 files, 5.0 MB" {
		t.Fatalf("Line at start = %q", l)
	}
	now = now.Add(2 * time.Second)
	m.Add(1, 5e6)
	if l := m.Done(); l != "COPY: 4 files, 10.0 MB, 5.0 MB/s in 2.0s" {
		t.Fatalf("Done = %q", l)
	}
}

// Wrap's reader counts what passes through it.
func TestWrapCounts(t *testing.T) {
	var out bytes.Buffer
	r := &Reporter{out: &out, tty: true}
	rd := r.Wrap("blob", 2<<20, bytes.NewReader(make([]byte, 2<<20)))
	n, err := io.Copy(io.Discard, rd)
	if err != nil || n != 2<<20 || rd.(*meterReader).m.Bytes() != 2<<20 {
		t.Fatalf("copied %d, %v, counted %d", n, err, rd.(*meterReader).m.Bytes())
	}
}
