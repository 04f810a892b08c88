package seccomp

import (
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// actions maps spec action names to libseccomp actions (without errno data).
var actions = map[specs.LinuxSeccompAction]libseccomp.ScmpAction{
	specs.ActKill:        libseccomp.ActKillThread,
	specs.ActKillThread:  libseccomp.ActKillThread,
	specs.ActKillProcess: libseccomp.ActKillProcess,
	specs.ActTrap:        libseccomp.ActTrap,
	specs.ActErrno:       libseccomp.ActErrno,
	specs.ActTrace:       libseccomp.ActTrace,
	specs.ActAllow:       libseccomp.ActAllow,
	specs.ActLog:         libseccomp.ActLog,
	specs.ActNotify:      libseccomp.ActNotify,
}

// actionOrder lists the spec actions in a stable order for features.
var actionOrder = []specs.LinuxSeccompAction{
	specs.ActKill, specs.ActKillProcess, specs.ActKillThread, specs.ActTrap,
	specs.ActErrno, specs.ActTrace, specs.ActAllow, specs.ActLog, specs.ActNotify,
}

// kernelAction is the SECCOMP_RET_* value a libseccomp action stands for,
// used to ask the kernel whether it implements it.
var kernelAction = map[libseccomp.ScmpAction]uint32{
	libseccomp.ActKillThread:  unix.SECCOMP_RET_KILL_THREAD,
	libseccomp.ActKillProcess: unix.SECCOMP_RET_KILL_PROCESS,
	libseccomp.ActTrap:        unix.SECCOMP_RET_TRAP,
	libseccomp.ActErrno:       unix.SECCOMP_RET_ERRNO,
	libseccomp.ActTrace:       unix.SECCOMP_RET_TRACE,
	libseccomp.ActAllow:       unix.SECCOMP_RET_ALLOW,
	libseccomp.ActLog:         unix.SECCOMP_RET_LOG,
	libseccomp.ActNotify:      unix.SECCOMP_RET_USER_NOTIF,
}

var operators = map[specs.LinuxSeccompOperator]libseccomp.ScmpCompareOp{
	specs.OpNotEqual:     libseccomp.CompareNotEqual,
	specs.OpLessThan:     libseccomp.CompareLess,
	specs.OpLessEqual:    libseccomp.CompareLessOrEqual,
	specs.OpEqualTo:      libseccomp.CompareEqual,
	specs.OpGreaterEqual: libseccomp.CompareGreaterEqual,
	specs.OpGreaterThan:  libseccomp.CompareGreater,
	specs.OpMaskedEqual:  libseccomp.CompareMaskedEqual,
}

var operatorOrder = []specs.LinuxSeccompOperator{
	specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpEqualTo,
	specs.OpGreaterEqual, specs.OpGreaterThan, specs.OpMaskedEqual,
}

// archNative is accepted in architectures like libseccomp's SCMP_ARCH_NATIVE.
const archNative specs.Arch = "SCMP_ARCH_NATIVE"

var archOrder = []specs.Arch{
	specs.ArchX86, specs.ArchX86_64, specs.ArchX32, specs.ArchARM, specs.ArchAARCH64,
	specs.ArchMIPS, specs.ArchMIPS64, specs.ArchMIPS64N32, specs.ArchMIPSEL,
	specs.ArchMIPSEL64, specs.ArchMIPSEL64N32, specs.ArchPPC, specs.ArchPPC64,
	specs.ArchPPC64LE, specs.ArchS390, specs.ArchS390X, specs.ArchPARISC,
	specs.ArchPARISC64, specs.ArchRISCV64, specs.ArchLOONGARCH64, specs.ArchM68K,
	specs.ArchSH, specs.ArchSHEB,
}

// libArch translates a spec architecture name to libseccomp's token. It
// only knows the names; whether the library supports the arch is checked
// when it is added to a filter.
func libArch(a specs.Arch) (libseccomp.ScmpArch, bool) {
	if a == archNative {
		return libseccomp.ArchNative, true
	}
	name, ok := strings.CutPrefix(string(a), "SCMP_ARCH_")
	if !ok {
		return libseccomp.ArchInvalid, false
	}
	for _, known := range archOrder {
		if known == a {
			arch, err := libseccomp.GetArchFromString(strings.ToLower(name))
			return arch, err == nil
		}
	}
	return libseccomp.ArchInvalid, false
}

// flagTSYNC is not in the spec's constants but is listed in its text.
const flagTSYNC specs.LinuxSeccompFlag = "SECCOMP_FILTER_FLAG_TSYNC"

// filterFlags maps spec flags to seccomp(2) filter flags.
var filterFlags = map[specs.LinuxSeccompFlag]uint{
	flagTSYNC:                              unix.SECCOMP_FILTER_FLAG_TSYNC,
	specs.LinuxSeccompFlagLog:              unix.SECCOMP_FILTER_FLAG_LOG,
	specs.LinuxSeccompFlagSpecAllow:        unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW,
	specs.LinuxSeccompFlagWaitKillableRecv: unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
}

var flagOrder = []specs.LinuxSeccompFlag{
	flagTSYNC, specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow,
	specs.LinuxSeccompFlagWaitKillableRecv,
}
