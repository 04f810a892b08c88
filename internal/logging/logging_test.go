package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
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

func TestHandler(t *testing.T) {
	var buf bytes.Buffer
	slog.New(Handler(&buf, "json", false)).Warn("w")
	slog.New(Handler(&buf, "json", false)).Debug("hidden")
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil || m["level"] != "warning" || m["msg"] != "w" {
		t.Fatalf("json line %q: %v", buf.String(), err)
	}
	buf.Reset()
	slog.New(Handler(&buf, "text", true)).Debug("d")
	if !strings.Contains(buf.String(), "level=debug msg=d") {
		t.Fatalf("text line %q", buf.String())
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
