package seccomp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// Filter is a checked and compiled filter that is not installed yet.
type Filter struct {
	prog   []unix.SockFilter
	flags  uint // seccomp(2) flags asked for in the config
	notify bool // some rule uses SCMP_ACT_NOTIFY
	// Skipped lists syscall names this libseccomp cannot resolve on the
	// native architecture; their rules were left out.
	Skipped []string
}

// Notify reports whether loading the filter yields a listener fd.
func (f *Filter) Notify() bool { return f.notify }

// refusedNotify may not be SCMP_ACT_NOTIFY. sendmsg hands the listener fd
// over (a notification on it would wait for an agent that has no fd yet);
// futex is the Go runtime's, made by any thread at any time, also before
// the hand-over. write is refused as runc refuses it: the runtime's log and
// sync writes would wait on the agent. Everything else after the filter is
// loaded (close, fcntl, read, openat, execve, ...) runs once the agent has
// the fd and is answered by it.
var refusedNotify = []string{"sendmsg", "futex", "write"}

// Build validates cfg and compiles it to BPF. Errors name the config field.
func Build(cfg *specs.LinuxSeccomp) (*Filter, error) {
	if cfg == nil {
		return nil, nil
	}
	defAct, err := toAction(cfg.DefaultAction, cfg.DefaultErrnoRet, "linux.seccomp.defaultAction", "linux.seccomp.defaultErrnoRet")
	if err != nil {
		return nil, err
	}
	if defAct == libseccomp.ActNotify {
		return nil, fmt.Errorf("linux.seccomp.defaultAction: %s cannot be the default action (the runtime's own syscalls would wait for the agent)", specs.ActNotify)
	}
	if cfg.ListenerMetadata != "" && cfg.ListenerPath == "" {
		return nil, fmt.Errorf("linux.seccomp.listenerMetadata: set without listenerPath")
	}
	filter, err := libseccomp.NewFilter(defAct)
	if err != nil {
		return nil, fmt.Errorf("linux.seccomp: libseccomp: %w", err)
	}
	defer filter.Release()

	for i, a := range cfg.Architectures {
		arch, ok := libArch(a)
		if !ok {
			return nil, fmt.Errorf("linux.seccomp.architectures[%d]: unknown architecture %q", i, a)
		}
		if err := filter.AddArch(arch); err != nil {
			if errors.Is(err, unix.EDOM) {
				err = fmt.Errorf("cannot be filtered on this host (byte order differs from the native architecture): %w", err)
			}
			return nil, fmt.Errorf("linux.seccomp.architectures[%d]: %q: %w", i, a, err)
		}
	}

	f := &Filter{}
	for i, fl := range cfg.Flags {
		bit, ok := filterFlags[fl]
		if !ok {
			return nil, fmt.Errorf("linux.seccomp.flags[%d]: unknown flag %q", i, fl)
		}
		if !kernelHasFlagCached(bit) {
			return nil, fmt.Errorf("linux.seccomp.flags[%d]: %q is not supported by this kernel", i, fl)
		}
		f.flags |= bit
	}

	for i, sc := range cfg.Syscalls {
		field := fmt.Sprintf("linux.seccomp.syscalls[%d]", i)
		if err := f.addSyscall(filter, defAct, cfg, sc, field); err != nil {
			return nil, err
		}
	}

	f.prog, err = exportBPF(filter)
	if err != nil {
		return nil, fmt.Errorf("linux.seccomp: %w", err)
	}
	if stub := enosysStub(cfg, defAct); stub != nil {
		f.prog = append(stub, f.prog...)
	}
	return f, nil
}

func (f *Filter) addSyscall(filter *libseccomp.ScmpFilter, defAct libseccomp.ScmpAction, cfg *specs.LinuxSeccomp, sc specs.LinuxSyscall, field string) error {
	if len(sc.Names) == 0 {
		return fmt.Errorf("%s.names: must contain at least one entry", field)
	}
	act, err := toAction(sc.Action, sc.ErrnoRet, field+".action", field+".errnoRet")
	if err != nil {
		return err
	}
	conds, err := toConditions(sc.Args, field)
	if err != nil {
		return err
	}
	if act == libseccomp.ActNotify {
		if cfg.ListenerPath == "" {
			return fmt.Errorf("linux.seccomp.listenerPath: required because %s.action is %s", field, specs.ActNotify)
		}
		for j, name := range sc.Names {
			if slices.Contains(refusedNotify, name) {
				return fmt.Errorf("%s.names[%d]: %s cannot be used for the %s syscall (the runtime's own %s calls would wait on the agent)", field, j, specs.ActNotify, name, name)
			}
		}
	}
	// libseccomp refuses rules equal to the default; they change nothing.
	if act == defAct {
		return nil
	}
	for j, name := range sc.Names {
		if name == "" {
			return fmt.Errorf("%s.names[%d]: empty syscall name", field, j)
		}
		nr, err := libseccomp.GetSyscallFromName(name)
		if err != nil {
			f.Skipped = append(f.Skipped, name)
			continue
		}
		for _, c := range conds {
			if err := filter.AddRuleConditional(nr, act, c); err != nil {
				return fmt.Errorf("%s: syscall %q: %w", field, name, err)
			}
		}
		if act == libseccomp.ActNotify {
			f.notify = true
		}
	}
	return nil
}

// toAction translates an action and its optional errno.
func toAction(name specs.LinuxSeccompAction, errnoRet *uint, field, errnoField string) (libseccomp.ScmpAction, error) {
	act, ok := actions[name]
	if !ok {
		return libseccomp.ActInvalid, fmt.Errorf("%s: unknown action %q", field, name)
	}
	if act != libseccomp.ActErrno && act != libseccomp.ActTrace {
		if errnoRet != nil {
			return libseccomp.ActInvalid, fmt.Errorf("%s: only valid with %s or %s, not %s", errnoField, specs.ActErrno, specs.ActTrace, name)
		}
		return act, nil
	}
	code := uint(unix.EPERM)
	if errnoRet != nil {
		code = *errnoRet
	}
	if code > 0xffff {
		return libseccomp.ActInvalid, fmt.Errorf("%s: %d does not fit in 16 bits", errnoField, code)
	}
	return act.SetReturnCode(int16(uint16(code))), nil
}

// toConditions returns the condition sets to add as separate rules: one set
// (ANDed) normally, or one rule per arg when an index repeats (see doc.go).
func toConditions(args []specs.LinuxSeccompArg, field string) ([][]libseccomp.ScmpCondition, error) {
	if len(args) == 0 {
		return [][]libseccomp.ScmpCondition{nil}, nil
	}
	conds := make([]libseccomp.ScmpCondition, 0, len(args))
	var seen [6]bool
	repeated := false
	for j, a := range args {
		afield := fmt.Sprintf("%s.args[%d]", field, j)
		if a.Index > 5 {
			return nil, fmt.Errorf("%s.index: %d out of range (syscalls have arguments 0-5)", afield, a.Index)
		}
		op, ok := operators[a.Op]
		if !ok {
			return nil, fmt.Errorf("%s.op: unknown operator %q", afield, a.Op)
		}
		// valueTwo only matters for MASKED_EQ: (arg & value) == valueTwo.
		vals := []uint64{a.Value}
		if op == libseccomp.CompareMaskedEqual {
			vals = append(vals, a.ValueTwo)
		}
		c, err := libseccomp.MakeCondition(a.Index, op, vals...)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", afield, err)
		}
		repeated = repeated || seen[a.Index]
		seen[a.Index] = true
		conds = append(conds, c)
	}
	if !repeated {
		return [][]libseccomp.ScmpCondition{conds}, nil
	}
	split := make([][]libseccomp.ScmpCondition, len(conds))
	for i, c := range conds {
		split[i] = []libseccomp.ScmpCondition{c}
	}
	return split, nil
}

// exportBPF has libseccomp write the program into a memfd (2.5 has no
// in-memory export) and decodes it.
func exportBPF(filter *libseccomp.ScmpFilter) ([]unix.SockFilter, error) {
	fd, err := unix.MemfdCreate("myrun-seccomp", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	mf := os.NewFile(uintptr(fd), "myrun-seccomp")
	defer mf.Close()
	if err := filter.ExportBPF(mf); err != nil {
		return nil, fmt.Errorf("export BPF: %w", err)
	}
	if _, err := mf.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(mf)
	if err != nil {
		return nil, err
	}
	if len(raw) == 0 || len(raw)%8 != 0 {
		return nil, fmt.Errorf("export BPF: odd program size %d", len(raw))
	}
	prog := make([]unix.SockFilter, len(raw)/8)
	for i := range prog {
		b := raw[i*8:]
		prog[i] = unix.SockFilter{
			Code: binary.NativeEndian.Uint16(b[0:]),
			Jt:   b[2],
			Jf:   b[3],
			K:    binary.NativeEndian.Uint32(b[4:]),
		}
	}
	return prog, nil
}
