package progress

import (
	"bytes"
	"io"
	"strings"
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

// On a terminal a meter draws its line at once (so even a short task
// shows what it is doing), redraws it on each tick and clears it at the
// end; elsewhere it prints a plain line per tick (every lineEvery) and
// nothing at the start or end.
func TestMeterLive(t *testing.T) {
	tick := make(chan time.Time)
	saved := newTicker
	newTicker = func(time.Duration) (<-chan time.Time, func()) { return tick, func() {} }
	defer func() { newTicker = saved }()
	now := time.Unix(1000, 0)
	for _, tty := range []bool{true, false} {
		var out bytes.Buffer
		m := &Meter{what: "layer", out: &out, total: 2e6, now: func() time.Time { return now }, start: now,
			stop: make(chan struct{}), done: make(chan struct{})}
		go m.draw(tty)
		m.Add(0, 5e5)
		// One tick: its line is drawn before Done's stop is seen.
		tick <- now
		m.Done()
		want := "layer: 500.0 kB / 2.0 MB\n"
		if tty {
			// The first frame may show 0 or 500 kB: it races the Add.
			got := out.String()
			if !strings.HasPrefix(got, "\r\x1b[Klayer: ") || !strings.HasSuffix(got, "\r\x1b[Klayer: 500.0 kB / 2.0 MB\r\x1b[K") {
				t.Fatalf("terminal: %q", got)
			}
			continue
		}
		if out.String() != want {
			t.Fatalf("plain: %q, want %q", out.String(), want)
		}
	}
	// io.Discard starts nothing.
	if m := NewMeter(io.Discard, "x", 0); m.stop != nil {
		t.Fatal("a meter on io.Discard draws")
	}
}
