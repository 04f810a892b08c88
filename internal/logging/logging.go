// Package logging is the slog setup both sides of myrun share: the CLI
// (runtime/) and the container's init (libcontainer/initproc) write the
// same lines to the same --log, which engines parse as runc's (logrus's)
// output. A leaf: it imports only the standard library.
package logging

import (
	"io"
	"log/slog"
	"time"
)

// Handler writes text or JSON ("json") lines at info level, debug level
// with debug, with logrus's level names and times in RFC 3339 to the
// second, as logrus (so runc) writes them.
func Handler(out io.Writer, format string, debug bool) slog.Handler {
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: logrusAttr}
	if format == "json" {
		return slog.NewJSONHandler(out, opts)
	}
	return slog.NewTextHandler(out, opts)
}

// LevelName is logrus's name for the range l falls in: below info is
// "debug", then "info", "warning", and "error" from error up.
func LevelName(l slog.Level) string {
	switch {
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warning"
	default:
		return "error"
	}
}

func logrusAttr(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey && len(groups) == 0 && a.Value.Kind() == slog.KindTime {
		return slog.String(slog.TimeKey, a.Value.Time().Format(time.RFC3339))
	}
	if a.Key == slog.LevelKey {
		if l, ok := a.Value.Any().(slog.Level); ok {
			a.Value = slog.StringValue(LevelName(l))
		}
	}
	return a
}

// Step runs fn and logs msg at debug level with attrs, how long it took
// and its error, if any, which it returns unchanged.
func Step(log *slog.Logger, msg string, fn func() error, attrs ...any) error {
	t0 := time.Now()
	err := fn()
	attrs = append(attrs, "took", time.Since(t0).String())
	if err != nil {
		attrs = append(attrs, "error", err.Error())
	}
	log.Debug(msg, attrs...)
	return err
}
