package seccomp

import (
	"github.com/opencontainers/runtime-spec/specs-go/features"
	libseccomp "github.com/seccomp/libseccomp-golang"
)

// Features reports what this build can really do: actions, operators and
// architectures accepted by the linked libseccomp (actions and flags also
// checked against the running kernel). Archs lists only those a filter can
// hold here: libseccomp cannot mix byte orders with the native arch.
func Features() *features.Seccomp {
	enabled := true
	fs := &features.Seccomp{
		Enabled:        &enabled,
		Actions:        []string{},
		Operators:      []string{},
		Archs:          []string{},
		KnownFlags:     []string{},
		SupportedFlags: []string{},
	}
	for _, fl := range flagOrder {
		fs.KnownFlags = append(fs.KnownFlags, string(fl))
		if kernelHasFlagCached(filterFlags[fl]) {
			fs.SupportedFlags = append(fs.SupportedFlags, string(fl))
		}
	}
	for _, name := range actionOrder {
		if actionWorks(actions[name]) {
			fs.Actions = append(fs.Actions, string(name))
		}
	}
	probe, err := libseccomp.NewFilter(libseccomp.ActAllow)
	if err != nil {
		return fs
	}
	defer probe.Release()
	nr, err := libseccomp.GetSyscallFromName("getpgid")
	if err != nil {
		return fs
	}
	for i, name := range operatorOrder {
		op := operators[name]
		vals := []uint64{uint64(i + 1)}
		if op == libseccomp.CompareMaskedEqual {
			vals = append(vals, 1)
		}
		c, err := libseccomp.MakeCondition(0, op, vals...)
		if err == nil && probe.AddRuleConditional(nr, libseccomp.ActErrno.SetReturnCode(1), []libseccomp.ScmpCondition{c}) == nil {
			fs.Operators = append(fs.Operators, string(name))
		}
	}
	for _, a := range archOrder {
		if arch, ok := libArch(a); ok && probe.AddArch(arch) == nil {
			fs.Archs = append(fs.Archs, string(a))
		}
	}
	return fs
}

// actionWorks reports whether the kernel implements act and libseccomp
// accepts a rule with it.
func actionWorks(act libseccomp.ScmpAction) bool {
	if !kernelHasAction(kernelAction[act]) {
		return false
	}
	f, err := libseccomp.NewFilter(libseccomp.ActErrno.SetReturnCode(1))
	if err != nil {
		return false
	}
	defer f.Release()
	nr, err := libseccomp.GetSyscallFromName("getpid")
	if err != nil {
		return false
	}
	if act == libseccomp.ActErrno || act == libseccomp.ActTrace {
		act = act.SetReturnCode(2)
	}
	return f.AddRule(nr, act) == nil
}
