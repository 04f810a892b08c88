// Package progress shows transfer progress: a bar on a terminal, plain
// lines otherwise (logs and CI stay readable).
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"

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
	bar := progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(r.out),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowBytes(true),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionThrottle(100_000_000),
	)
	pr := progressbar.NewReader(rd, bar)
	return &pr
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
