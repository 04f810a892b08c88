package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"testing"
)

func TestLevelName(t *testing.T) {
	for l, want := range map[slog.Level]string{
		slog.LevelDebug - 4: "debug", slog.LevelDebug: "debug", slog.LevelInfo: "info", slog.LevelInfo + 2: "info",
		slog.LevelWarn: "warning", slog.LevelWarn + 1: "warning", slog.LevelError: "error", slog.LevelError + 8: "error",
	} {
		if got := LevelName(l); got != want {
			t.Errorf("LevelName(%v) = %q, want %q", l, got, want)
		}
	}
}

var rfc3339Seconds = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$`)

func TestHandler(t *testing.T) {
	var buf bytes.Buffer
	slog.New(Handler(&buf, "json", false)).Warn("w")
	slog.New(Handler(&buf, "json", false)).Debug("hidden")
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil || m["level"] != "warning" || m["msg"] != "w" {
		t.Fatalf("json line %q: %v", buf.String(), err)
	}
	// Times as logrus writes them: RFC 3339 to the second.
	if tm, _ := m["time"].(string); !rfc3339Seconds.MatchString(tm) {
		t.Fatalf("json time %q", tm)
	}
	buf.Reset()
	slog.New(Handler(&buf, "text", true)).Debug("d")
	if !strings.Contains(buf.String(), "level=debug msg=d") {
		t.Fatalf("text line %q", buf.String())
	}
	if m := regexp.MustCompile(`^time=(\S+) `).FindStringSubmatch(buf.String()); m == nil || !rfc3339Seconds.MatchString(m[1]) {
		t.Fatalf("text time in %q", buf.String())
	}
}

func TestStep(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(Handler(&buf, "text", true))
	boom := errors.New("boom")
	if err := Step(log, "thing", func() error { return boom }, "k", "v"); err != boom {
		t.Fatalf("Step returned %v", err)
	}
	if s := buf.String(); !strings.Contains(s, "msg=thing k=v took=") || !strings.Contains(s, "error=boom") {
		t.Fatalf("Step logged %q", s)
	}
}
