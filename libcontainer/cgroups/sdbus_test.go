package cgroups

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	lib "github.com/opencontainers/cgroups"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// silentSystemd is a systemd manager whose D-Bus steps never answer until
// the test ends.
type silentSystemd struct {
	lib.Manager
	release chan struct{}
}

func (s *silentSystemd) wait() error                   { <-s.release; return nil }
func (s *silentSystemd) GetPaths() map[string]string   { return map[string]string{"": "/cg/u.scope"} }
func (s *silentSystemd) Path(string) string            { return "" }
func (s *silentSystemd) AddPid(string, int) error      { return s.wait() }
func (s *silentSystemd) Apply(int) error               { return s.wait() }
func (s *silentSystemd) Set(*lib.Resources) error      { return s.wait() }
func (s *silentSystemd) Destroy() error                { return s.wait() }
func (s *silentSystemd) GetAllPids() ([]int, error)    { return nil, nil }
func (s *silentSystemd) Freeze(lib.FreezerState) error { return nil }

// A systemd that never answers must not keep exec (AttachProcessesToUnit),
// create (StartTransientUnit, SetUnitProperties) or delete (StopUnit)
// waiting: each step fails naming the unit and the step.
func TestSystemdStepsBounded(t *testing.T) {
	savedCall, savedJob, savedWrite := dbusCallTimeout, dbusJobTimeout, writeCgroupProc
	silent := &silentSystemd{release: make(chan struct{})}
	t.Cleanup(func() {
		close(silent.release)
		dbusCallTimeout, dbusJobTimeout, writeCgroupProc = savedCall, savedJob, savedWrite
	})
	dbusCallTimeout, dbusJobTimeout = time.Millisecond, time.Millisecond
	writeCgroupProc = func(string, int) error { return unix.EACCES }
	m := &sdManager{cfg: Config{Logger: slog.Default()}, v2: true, unit: "myrun-x.scope", m: silent}
	for step, call := range map[string]func() error{
		"AttachProcessesToUnit": func() error { return m.Join(7) },
		"StartTransientUnit":    func() error { return m.Apply(7) },
		"StopUnit":              m.Destroy,
		"SetUnitProperties":     func() error { return m.Set(&specs.LinuxResources{}) },
	} {
		err := call()
		want := "systemd unit myrun-x.scope: " + step + ": no answer over D-Bus within "
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error with %q", step, err, want)
		}
	}
}
