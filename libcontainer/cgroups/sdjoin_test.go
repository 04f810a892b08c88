package cgroups

import (
	"errors"
	"log/slog"
	"testing"

	lib "github.com/opencontainers/cgroups"
	"golang.org/x/sys/unix"
)

// attachRecorder is a systemd manager that only knows its path and records
// what it is asked to attach.
type attachRecorder struct {
	lib.Manager
	attached []int
	fail     error
}

func (a *attachRecorder) GetPaths() map[string]string { return map[string]string{"": "/cg/u.scope"} }
func (a *attachRecorder) AddPid(sub string, pid int) error {
	if sub != "" {
		return errors.New("subcgroup " + sub)
	}
	a.attached = append(a.attached, pid)
	return a.fail
}

func TestSystemdJoinFallsBackToAttach(t *testing.T) {
	saved := writeCgroupProc
	t.Cleanup(func() { writeCgroupProc = saved })
	for _, c := range []struct {
		name      string
		write     error
		attachErr error
		attached  bool
		wantErr   string
	}{
		{"written", nil, nil, false, ""},
		{"EACCES asks systemd", unix.EACCES, nil, true, ""},
		{"EPERM asks systemd", unix.EPERM, nil, true, ""},
		{"both refuse: both named", unix.EACCES, errors.New("access denied by policy"), true,
			"cgroups: join pid 7: permission denied; asking systemd instead: systemd unit u.scope: AttachProcessesToUnit: access denied by policy"},
		{"other errors are not retried", unix.ENOENT, nil, false, "cgroups: join pid 7: no such file or directory"},
	} {
		writeCgroupProc = func(dir string, pid int) error {
			if dir != "/cg/u.scope" || pid != 7 {
				t.Fatalf("%s: write %s %d", c.name, dir, pid)
			}
			return c.write
		}
		rec := &attachRecorder{fail: c.attachErr}
		m := &sdManager{cfg: Config{Logger: slog.Default()}, v2: true, unit: "u.scope", m: rec}
		err := m.Join(7)
		if got := err != nil; got != (c.wantErr != "") || (err != nil && err.Error() != c.wantErr) {
			t.Errorf("%s: Join = %v, want %q", c.name, err, c.wantErr)
		}
		if got := len(rec.attached) == 1 && rec.attached[0] == 7; got != c.attached {
			t.Errorf("%s: attached %v, want attach %v", c.name, rec.attached, c.attached)
		}
	}
}
