// Package progress shows transfer progress: a bar on a terminal, plain
// lines otherwise (logs and CI stay readable).
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// BarThreshold is the size above which a bar is worth drawing.
const BarThreshold = 1 << 20

// Reporter wraps streams with progress output on out.
type Reporter struct {
	out   io.Writer
	tty   bool
	quiet bool
}

// New reports on out (a bar only when out is a terminal).
func New(out *os.File, quiet bool) *Reporter {
	return &Reporter{out: out, tty: term.IsTerminal(int(out.Fd())), quiet: quiet}
}

// Logf prints one line.
func (r *Reporter) Logf(format string, a ...any) {
	if !r.quiet {
		fmt.Fprintf(r.out, format+"\n", a...)
	}
}

// Wrap returns rd, drawing a bar while it is read when that makes sense.
func (r *Reporter) Wrap(what string, size int64, rd io.Reader) io.Reader {
	if r.quiet || !r.tty || size < BarThreshold {
		return rd
	}
	return &meterReader{r: rd, m: NewMeter(r.out, what, size)}
}

// Steps reports a task of total steps: on a terminal one bar that each
// call advances (its line becomes the bar's description), otherwise each
// call prints its line.
func (r *Reporter) Steps(what string, total int) func(format string, a ...any) {
	if r.quiet {
		return func(string, ...any) {}
	}
	if !r.tty || total < 2 {
		return r.Logf
	}
	bar := progressbar.NewOptions(total,
		progressbar.OptionSetWriter(r.out),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionClearOnFinish(),
	)
	var mu sync.Mutex
	return func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		bar.Describe(what + ": " + fmt.Sprintf(format, a...))
		bar.Add(1)
	}
}

// MinRateWindow is how long a transfer must have run before a rate is
// shown: a rate over the first chunk measures a buffer copy, not the
// transfer (progressbar's first frame read "390 GB/s").
const MinRateWindow = time.Second

// Meter counts items and bytes of a long task. On a terminal it draws
// its line at once and redraws it every redrawEvery; elsewhere (logs, CI)
// a task that runs longer than lineEvery prints its line every
// lineEvery. Done returns the summary line.
type Meter struct {
	what  string
	out   io.Writer
	total int64 // bytes expected, 0 if unknown
	start time.Time
	now   func() time.Time
	items atomic.Int64
	bytes atomic.Int64
	stop  chan struct{}
	done  chan struct{}
}

const (
	redrawEvery = 250 * time.Millisecond
	lineEvery   = 10 * time.Second
)

// newTicker is time.NewTicker's channel and stop (tests tick by hand).
var newTicker = func(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// NewMeter starts a meter on out; io.Discard draws nothing.
func NewMeter(out io.Writer, what string, total int64) *Meter {
	m := &Meter{what: what, out: out, total: total, now: time.Now}
	m.start = m.now()
	if out == io.Discard {
		return m
	}
	m.stop, m.done = make(chan struct{}), make(chan struct{})
	go m.draw(IsTerminal(out))
	return m
}

// IsTerminal says whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (m *Meter) draw(tty bool) {
	defer close(m.done)
	every := lineEvery
	if tty {
		every = redrawEvery
		fmt.Fprintf(m.out, "\r\x1b[K%s", m.Line())
	}
	tick, stop := newTicker(every)
	defer stop()
	for {
		select {
		case <-m.stop:
			if tty {
				fmt.Fprint(m.out, "\r\x1b[K")
			}
			return
		case <-tick:
			if tty {
				fmt.Fprintf(m.out, "\r\x1b[K%s", m.Line())
			} else {
				fmt.Fprintf(m.out, "%s\n", m.Line())
			}
		}
	}
}

// Add counts n items of size bytes (safe from any goroutine).
func (m *Meter) Add(items, bytes int64) {
	m.items.Add(items)
	m.bytes.Add(bytes)
}

// Bytes counted so far.
func (m *Meter) Bytes() int64 { return m.bytes.Load() }

// Line is the meter's state: "what: 12 files, 3.4 MB / 10 MB, 1.2 MB/s".
func (m *Meter) Line() string {
	b := m.bytes.Load()
	s := m.what + ": "
	if n := m.items.Load(); n == 1 {
		s += "1 file, "
	} else if n > 1 {
		s += fmt.Sprintf("%d files, ", n)
	}
	s += Size(b)
	if m.total > 0 {
		s += " / " + Size(m.total)
	}
	if r := Rate(b, m.now().Sub(m.start)); r != "" {
		s += ", " + r
	}
	return s
}

// Done stops drawing and returns the summary line (with the time taken).
func (m *Meter) Done() string {
	if m.stop != nil {
		close(m.stop)
		<-m.done
		m.stop = nil
	}
	el := m.now().Sub(m.start)
	return fmt.Sprintf("%s in %.1fs", m.Line(), el.Seconds())
}

// Rate is bytes over elapsed as "12.3 MB/s", or "" before MinRateWindow.
func Rate(bytes int64, elapsed time.Duration) string {
	if elapsed < MinRateWindow {
		return ""
	}
	return Size(int64(float64(bytes)/elapsed.Seconds())) + "/s"
}

// Size formats bytes in decimal units as docker and podman print them.
func Size(b int64) string {
	switch {
	case b >= 1e9:
		return fmt.Sprintf("%.2f GB", float64(b)/1e9)
	case b >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(b)/1e6)
	case b >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(b)/1e3)
	}
	return fmt.Sprintf("%d B", b)
}

// meterReader counts what is read through it.
type meterReader struct {
	r io.Reader
	m *Meter
}

func (r *meterReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.m.Add(0, int64(n))
	if err == io.EOF {
		r.m.Done()
	}
	return n, err
}
