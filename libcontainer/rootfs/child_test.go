package rootfs

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/libcontainer/pathrs"
)

// childEnv carries the path of a childPlan for a re-executed test binary.
const childEnv = "MYRUN_ROOTFS_TEST_CHILD"

// childPlan is what the re-executed test binary does in its namespaces.
type childPlan struct {
	Rootfs      string
	Spec        *rspec.Spec
	InUserNS    bool
	NoPivot     bool
	CgroupPaths map[string]string
	Sysctl      map[string]string
	Console     bool // open a pty and MountConsole its slave
	Script      string
}

func TestMain(m *testing.M) {
	if p := os.Getenv(childEnv); p != "" {
		os.Exit(runChild(p))
	}
	os.Exit(m.Run())
}

// runChild plays init: Prepare, PivotRoot, sysctls, Finalize, exec.
func runChild(planPath string) int {
	runtime.LockOSThread()
	fail := func(stage string, err error) int {
		fmt.Fprintf(os.Stderr, "CHILD-ERROR %s: %v\n", stage, err)
		return 3
	}
	data, err := os.ReadFile(planPath)
	if err != nil {
		return fail("plan", err)
	}
	var plan childPlan
	if err := json.Unmarshal(data, &plan); err != nil {
		return fail("plan", err)
	}
	cfg := &Config{
		Spec: plan.Spec, Rootfs: plan.Rootfs, InUserNS: plan.InUserNS, NoPivot: plan.NoPivot,
		CgroupPaths: plan.CgroupPaths,
		Log:         slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if err := Prepare(cfg); err != nil {
		return fail("prepare", err)
	}
	if err := PivotRoot(cfg); err != nil {
		return fail("pivot", err)
	}
	for k, v := range plan.Sysctl {
		if err := pathrs.WriteProcSys(k, v); err != nil {
			return fail("sysctl", err)
		}
	}
	if plan.Console {
		slave, err := openPtySlave()
		if err != nil {
			return fail("pty", err)
		}
		if err := MountConsole(slave); err != nil {
			return fail("console", err)
		}
		slave.Close()
	}
	if err := Finalize(cfg); err != nil {
		return fail("finalize", err)
	}
	err = unix.Exec("/bin/sh", []string{"sh", "-c", plan.Script}, []string{"PATH=/bin"})
	return fail("exec", err)
}

// openPtySlave opens a pty pair in the container's devpts and returns
// the slave (the master is left open so the slave stays usable).
func openPtySlave() (*os.File, error) {
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		return nil, err
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		return nil, err
	}
	return os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
}
