package seccomp

import (
	"encoding/binary"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

func allow(names ...string) specs.LinuxSyscall {
	return specs.LinuxSyscall{Names: names, Action: specs.ActAllow}
}

func TestValidateErrors(t *testing.T) {
	base := func() *specs.LinuxSeccomp {
		return &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{allow("read"), allow("write"), allow("close"), allow("exit")}}
	}
	for _, tc := range []struct {
		name string
		mod  func(c *specs.LinuxSeccomp)
		want string
	}{
		{"unknown default action", func(c *specs.LinuxSeccomp) { c.DefaultAction = "SCMP_ACT_FOO" },
			`linux.seccomp.defaultAction: unknown action "SCMP_ACT_FOO"`},
		{"empty default action", func(c *specs.LinuxSeccomp) { c.DefaultAction = "" },
			`linux.seccomp.defaultAction: unknown action ""`},
		{"unknown rule action", func(c *specs.LinuxSeccomp) { c.Syscalls[3].Action = "SCMP_ACT_FOO" },
			`linux.seccomp.syscalls[3].action: unknown action "SCMP_ACT_FOO"`},
		{"errnoRet on ALLOW", func(c *specs.LinuxSeccomp) { c.Syscalls[1].ErrnoRet = uintp(1) },
			`linux.seccomp.syscalls[1].errnoRet: only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE`},
		{"defaultErrnoRet on KILL", func(c *specs.LinuxSeccomp) {
			c.DefaultAction = specs.ActKillProcess
			c.DefaultErrnoRet = uintp(1)
		}, `linux.seccomp.defaultErrnoRet: only valid with`},
		{"errnoRet too big", func(c *specs.LinuxSeccomp) {
			c.Syscalls[0].Action = specs.ActTrace
			c.Syscalls[0].ErrnoRet = uintp(70000)
		}, `linux.seccomp.syscalls[0].errnoRet: 70000 does not fit in 16 bits`},
		{"unknown arch", func(c *specs.LinuxSeccomp) { c.Architectures = []specs.Arch{specs.ArchX86, "SCMP_ARCH_VAX"} },
			`linux.seccomp.architectures[1]: unknown architecture "SCMP_ARCH_VAX"`},
		{"arch without prefix", func(c *specs.LinuxSeccomp) { c.Architectures = []specs.Arch{"x86_64"} },
			`linux.seccomp.architectures[0]: unknown architecture "x86_64"`},
		{"foreign byte order", func(c *specs.LinuxSeccomp) { c.Architectures = []specs.Arch{foreignArch()} },
			`linux.seccomp.architectures[0]: "` + string(foreignArch()) + `": cannot be filtered on this host`},
		{"unknown flag", func(c *specs.LinuxSeccomp) {
			c.Flags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog, "SECCOMP_FILTER_FLAG_FOO"}
		},
			`linux.seccomp.flags[1]: unknown flag "SECCOMP_FILTER_FLAG_FOO"`},
		{"no names", func(c *specs.LinuxSeccomp) { c.Syscalls[2].Names = nil },
			`linux.seccomp.syscalls[2].names: must contain at least one entry`},
		{"empty name", func(c *specs.LinuxSeccomp) { c.Syscalls[2].Names = []string{"close", ""} },
			`linux.seccomp.syscalls[2].names[1]: empty syscall name`},
		{"arg index", func(c *specs.LinuxSeccomp) {
			c.Syscalls[0].Args = []specs.LinuxSeccompArg{{Index: 0, Op: specs.OpEqualTo}, {Index: 6, Op: specs.OpEqualTo}}
		}, `linux.seccomp.syscalls[0].args[1].index: 6 out of range`},
		{"arg op", func(c *specs.LinuxSeccomp) {
			c.Syscalls[0].Args = []specs.LinuxSeccompArg{{Index: 0, Op: "SCMP_CMP_ABOUT"}}
		},
			`linux.seccomp.syscalls[0].args[0].op: unknown operator "SCMP_CMP_ABOUT"`},
		{"notify without listener", func(c *specs.LinuxSeccomp) {
			c.Syscalls = append(c.Syscalls, specs.LinuxSyscall{Names: []string{"mkdir"}, Action: specs.ActNotify})
		},
			`linux.seccomp.listenerPath: required because linux.seccomp.syscalls[4].action is SCMP_ACT_NOTIFY`},
		{"notify default", func(c *specs.LinuxSeccomp) { c.DefaultAction = specs.ActNotify; c.ListenerPath = "/x" },
			`linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action`},
		{"notify on write", func(c *specs.LinuxSeccomp) { c.ListenerPath = "/x"; c.Syscalls[1].Action = specs.ActNotify },
			`linux.seccomp.syscalls[1].names[0]: SCMP_ACT_NOTIFY cannot be used for the write syscall`},
		{"metadata without path", func(c *specs.LinuxSeccomp) { c.ListenerMetadata = "m" },
			`linux.seccomp.listenerMetadata: set without listenerPath`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			if _, err := Build(c); err != nil {
				t.Fatalf("base config invalid: %v", err)
			}
			tc.mod(c)
			_, err := Build(c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Build = %v, want error containing %q", err, tc.want)
			}
		})
	}
}

// foreignArch is an architecture of the other byte order than the host.
func foreignArch() specs.Arch {
	if binary.NativeEndian.Uint16([]byte{1, 0}) == 1 {
		return specs.ArchS390X
	}
	return specs.ArchX86_64
}

func TestValidateAccepts(t *testing.T) {
	all := []specs.LinuxSeccompOperator{specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpEqualTo, specs.OpGreaterEqual, specs.OpGreaterThan, specs.OpMaskedEqual}
	var args []specs.LinuxSeccompArg
	for i, op := range all {
		if i < 6 {
			args = append(args, specs.LinuxSeccompArg{Index: uint(i), Op: op, Value: 1})
		}
	}
	cfg := &specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: uintp(uint(unix.ENOSYS)),
		Architectures:   []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32, archNative},
		Flags:           []specs.LinuxSeccompFlag{flagTSYNC, specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow},
		ListenerPath:    "/run/agent.sock", ListenerMetadata: "meta",
		Syscalls: []specs.LinuxSyscall{
			allow("read", "write", "no_such_syscall_myrun"),
			{Names: []string{"mkdir"}, Action: specs.ActNotify},
			{Names: []string{"getpid"}, Action: specs.ActKill},
			{Names: []string{"getppid"}, Action: specs.ActKillThread},
			{Names: []string{"gettid"}, Action: specs.ActKillProcess},
			{Names: []string{"uname"}, Action: specs.ActTrap},
			{Names: []string{"sync"}, Action: specs.ActTrace, ErrnoRet: uintp(5)},
			{Names: []string{"syncfs"}, Action: specs.ActLog},
			{Names: []string{"rmdir"}, Action: specs.ActErrno, ErrnoRet: uintp(1)},
			// Equal to the default: dropped, not an error.
			{Names: []string{"chdir"}, Action: specs.ActErrno, ErrnoRet: uintp(uint(unix.ENOSYS))},
			{Names: []string{"mmap"}, Action: specs.ActAllow, Args: args},
			{Names: []string{"clone"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Op: specs.OpMaskedEqual, Value: 0x7e020000, ValueTwo: 0}}},
			// Same index twice: split into two rules.
			{Names: []string{"personality"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
				{Index: 0, Op: specs.OpEqualTo, Value: 0}, {Index: 0, Op: specs.OpEqualTo, Value: 8}}},
		},
	}
	f, err := Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Notify() {
		t.Error("Notify() = false with a SCMP_ACT_NOTIFY rule")
	}
	if !slices.Equal(f.Skipped, []string{"no_such_syscall_myrun"}) {
		t.Errorf("Skipped = %v", f.Skipped)
	}
	if len(f.prog) < 10 {
		t.Errorf("program has only %d instructions", len(f.prog))
	}
	if f.flags != unix.SECCOMP_FILTER_FLAG_TSYNC|unix.SECCOMP_FILTER_FLAG_LOG|unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW {
		t.Errorf("flags = %#x", f.flags)
	}
	if _, err := Build(nil); err != nil {
		t.Errorf("Build(nil) = %v", err)
	}
}

// A notify action on a syscall unknown here yields no listener.
func TestNotifyOnlyForResolvedSyscalls(t *testing.T) {
	f, err := Build(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/x",
		Syscalls: []specs.LinuxSyscall{{Names: []string{"no_such_syscall_myrun"}, Action: specs.ActNotify}}})
	if err != nil {
		t.Fatal(err)
	}
	if f.Notify() {
		t.Error("Notify() = true although no rule was added")
	}
}

func TestToAction(t *testing.T) {
	for _, tc := range []struct {
		name  specs.LinuxSeccompAction
		errno *uint
		want  libseccomp.ScmpAction
	}{
		{specs.ActErrno, nil, libseccomp.ActErrno.SetReturnCode(int16(unix.EPERM))},
		{specs.ActErrno, uintp(28), libseccomp.ActErrno.SetReturnCode(28)},
		{specs.ActErrno, uintp(0), libseccomp.ActErrno.SetReturnCode(0)},
		{specs.ActTrace, nil, libseccomp.ActTrace.SetReturnCode(int16(unix.EPERM))},
		{specs.ActTrace, uintp(0xffff), libseccomp.ActTrace.SetReturnCode(-1)},
		{specs.ActKill, nil, libseccomp.ActKillThread},
		{specs.ActKillThread, nil, libseccomp.ActKillThread},
		{specs.ActKillProcess, nil, libseccomp.ActKillProcess},
		{specs.ActTrap, nil, libseccomp.ActTrap},
		{specs.ActAllow, nil, libseccomp.ActAllow},
		{specs.ActLog, nil, libseccomp.ActLog},
		{specs.ActNotify, nil, libseccomp.ActNotify},
	} {
		got, err := toAction(tc.name, tc.errno, "a", "e")
		if err != nil || got != tc.want {
			t.Errorf("toAction(%s, %v) = %v, %v; want %v", tc.name, tc.errno, got, err, tc.want)
		}
	}
}

func TestToConditions(t *testing.T) {
	sets, err := toConditions([]specs.LinuxSeccompArg{
		{Index: 0, Op: specs.OpEqualTo, Value: 1, ValueTwo: 99},
		{Index: 2, Op: specs.OpMaskedEqual, Value: 0xf0, ValueTwo: 0x10},
	}, "f")
	if err != nil {
		t.Fatal(err)
	}
	if len(sets) != 1 || len(sets[0]) != 2 {
		t.Fatalf("distinct indexes: want one rule with 2 conditions, got %v", sets)
	}
	if c := sets[0][0]; c.Argument != 0 || c.Op != libseccomp.CompareEqual || c.Operand1 != 1 || c.Operand2 != 0 {
		t.Errorf("EQ condition %+v (valueTwo must be ignored)", c)
	}
	if c := sets[0][1]; c.Argument != 2 || c.Op != libseccomp.CompareMaskedEqual || c.Operand1 != 0xf0 || c.Operand2 != 0x10 {
		t.Errorf("MASKED_EQ condition %+v", c)
	}
	sets, err = toConditions([]specs.LinuxSeccompArg{
		{Index: 1, Op: specs.OpEqualTo, Value: 1},
		{Index: 0, Op: specs.OpEqualTo, Value: 2},
		{Index: 1, Op: specs.OpEqualTo, Value: 3},
	}, "f")
	if err != nil {
		t.Fatal(err)
	}
	if len(sets) != 3 {
		t.Fatalf("repeated index: want 3 single-condition rules, got %v", sets)
	}
	for i, s := range sets {
		if len(s) != 1 {
			t.Errorf("rule %d has %d conditions", i, len(s))
		}
	}
	if sets, _ := toConditions(nil, "f"); len(sets) != 1 || sets[0] != nil {
		t.Errorf("no args: want one unconditional rule, got %v", sets)
	}
}

func TestLibArch(t *testing.T) {
	for _, a := range archOrder {
		if _, ok := libArch(a); !ok {
			t.Errorf("libArch(%q) not known", a)
		}
	}
	if got, ok := libArch(specs.ArchX86_64); !ok || got != libseccomp.ArchAMD64 {
		t.Errorf("x86_64 -> %v", got)
	}
	if got, ok := libArch(specs.ArchAARCH64); !ok || got != libseccomp.ArchARM64 {
		t.Errorf("aarch64 -> %v", got)
	}
	if got, ok := libArch(archNative); !ok || got != libseccomp.ArchNative {
		t.Errorf("native -> %v", got)
	}
	for _, bad := range []specs.Arch{"", "SCMP_ARCH_", "SCMP_ARCH_AMD64", "SCMP_ARCH_X86-64", "amd64"} {
		if _, ok := libArch(bad); ok {
			t.Errorf("libArch(%q) accepted", bad)
		}
	}
}

func TestFeatures(t *testing.T) {
	f := Features()
	if f.Enabled == nil || !*f.Enabled {
		t.Fatal("seccomp not enabled")
	}
	// Kernel 6.x with libseccomp >= 2.5 has every action and operator.
	for _, a := range actionOrder {
		if !slices.Contains(f.Actions, string(a)) {
			t.Errorf("action %s missing from %v", a, f.Actions)
		}
	}
	if len(f.Operators) != 7 {
		t.Errorf("operators %v", f.Operators)
	}
	for _, a := range []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32, specs.ArchAARCH64} {
		if !slices.Contains(f.Archs, string(a)) {
			t.Errorf("arch %s missing from %v", a, f.Archs)
		}
	}
	if len(f.KnownFlags) != 4 {
		t.Errorf("known flags %v", f.KnownFlags)
	}
	for _, fl := range f.SupportedFlags {
		if !slices.Contains(f.KnownFlags, fl) {
			t.Errorf("supported flag %s not known", fl)
		}
	}
	if !slices.Contains(f.SupportedFlags, string(specs.LinuxSeccompFlagLog)) {
		t.Errorf("SECCOMP_FILTER_FLAG_LOG not supported: %v", f.SupportedFlags)
	}
	t.Logf("features: %+v", *f)
}

func TestKernelProbes(t *testing.T) {
	if !kernelHasFlag(unix.SECCOMP_FILTER_FLAG_TSYNC) {
		t.Error("kernel without TSYNC?")
	}
	if kernelHasFlag(1 << 30) {
		t.Error("bogus flag reported as supported")
	}
	if !kernelHasAction(unix.SECCOMP_RET_ALLOW) || kernelHasAction(0x12340000) {
		t.Error("action probe wrong")
	}
}
