package container

import (
	"strings"
	"testing"
	"time"

	"github.com/myrun-org/myrun/imgtool/store"
)

func TestParseHealthCmd(t *testing.T) {
	for in, want := range map[string]string{
		"curl -f http://x/ || exit 1": "CMD-SHELL|curl -f http://x/ || exit 1",
		`["CMD","true"]`:              "CMD|true",
		`["ls","-l"]`:                 "CMD|ls|-l",
		`["CMD-SHELL","exit 0"]`:      "CMD-SHELL|exit 0",
		"none":                        "NONE",
	} {
		got, err := ParseHealthCmd(in)
		if err != nil || strings.Join(got, "|") != want {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", `["CMD"]`, `["CMD-SHELL","a","b"]`, `[1]`, `[]`} {
		if _, err := ParseHealthCmd(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestResolveHealth(t *testing.T) {
	img := &store.HealthConfig{Test: []string{"CMD", "true"}, Interval: 5 * time.Second}
	c, err := HealthFlags{}.resolve(img)
	if err != nil || c.Interval != 5*time.Second || c.Timeout != healthTimeout || c.Retries != healthRetries {
		t.Fatalf("image defaults: %+v %v", c, err)
	}
	two := 2
	c, err = HealthFlags{Interval: "disable", Retries: &two, StartPeriod: "1m"}.resolve(img)
	if err != nil || c.Interval != 0 || c.Retries != 2 || c.StartPeriod != time.Minute {
		t.Fatalf("flags: %+v %v", c, err)
	}
	if c, err := (HealthFlags{Disable: true}).resolve(img); c != nil || err != nil {
		t.Fatalf("--no-healthcheck: %+v %v", c, err)
	}
	if c, err := (HealthFlags{Cmd: "none"}).resolve(img); c != nil || err != nil {
		t.Fatalf("--health-cmd none: %+v %v", c, err)
	}
	if c, err := (HealthFlags{}).resolve(&store.HealthConfig{Test: []string{"NONE"}}); c != nil || err != nil {
		t.Fatalf("image NONE: %+v %v", c, err)
	}
	for _, bad := range []HealthFlags{{Timeout: "0s"}, {Interval: "999ms"}, {Disable: true, Interval: "1s"}} {
		if _, err := bad.resolve(img); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if _, err := (HealthFlags{Timeout: "5s"}).resolve(nil); err == nil || !strings.Contains(err.Error(), "--health-timeout") {
		t.Errorf("--health-timeout without a healthcheck: %v", err)
	}
}

func TestRecordCheck(t *testing.T) {
	start := time.Now()
	r := &Record{StartedAt: start, Healthcheck: &store.HealthConfig{Retries: 2, StartPeriod: time.Minute}}
	resetHealth(r)
	fail := func(at time.Duration) { recordCheck(r, HealthLog{Start: start.Add(at), ExitCode: 1}) }
	fail(time.Second) // in the start period
	if r.Health.Status != HealthStarting || r.Health.FailingStreak != 0 {
		t.Fatalf("start period: %+v", r.Health)
	}
	fail(2 * time.Minute)
	if r.Health.Status != HealthStarting || r.Health.FailingStreak != 1 {
		t.Fatalf("one failure: %+v", r.Health)
	}
	fail(3 * time.Minute)
	if r.Health.Status != HealthUnhealthy {
		t.Fatalf("two failures: %+v", r.Health)
	}
	recordCheck(r, HealthLog{Start: start.Add(4 * time.Minute)})
	if r.Health.Status != HealthHealthy || r.Health.FailingStreak != 0 {
		t.Fatalf("success: %+v", r.Health)
	}
	for i := 0; i < 10; i++ {
		fail(5 * time.Minute)
	}
	if len(r.Health.Log) != healthLogs {
		t.Fatalf("log kept %d checks", len(r.Health.Log))
	}
}

func TestCheckOnFailure(t *testing.T) {
	for _, c := range []struct {
		action     string
		hc, detach bool
		ok         bool
	}{
		{"", false, false, true}, {"none", false, false, true}, {"kill", true, false, true}, {"stop", true, false, true},
		{"restart", true, true, true}, {"restart", true, false, false}, {"kill", false, true, false}, {"boom", true, true, false},
	} {
		_, err := HealthFlags{OnFailure: c.action}.checkOnFailure(c.hc, c.detach)
		if (err == nil) != c.ok {
			t.Errorf("%+v: %v", c, err)
		}
	}
}
