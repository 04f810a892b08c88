package seccomp

import (
	"runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// A profile is written against some list of syscalls. A syscall newer
// than every one it names (clone3 under a profile from before clone3, or
// a number the kernel added since) should look absent to the process, so
// libc falls back to the older call: -ENOSYS, not the profile's default
// errno (EPERM would be taken as a real refusal). runc prepends the same
// kind of stub; ours covers the native architecture.

// nativeAuditArch is seccomp_data.arch of this build's architecture.
var nativeAuditArch = map[string]uint32{
	"amd64": unix.AUDIT_ARCH_X86_64,
	"arm64": unix.AUDIT_ARCH_AARCH64,
}[runtime.GOARCH]

// enosysStub returns the instructions to put before the profile's
// program, or nil when the default action already lets unknown syscalls
// through (allow, log) or the architecture is not covered.
func enosysStub(cfg *specs.LinuxSeccomp, defAct libseccomp.ScmpAction) []unix.SockFilter {
	if nativeAuditArch == 0 || defAct == libseccomp.ActAllow || defAct == libseccomp.ActLog {
		return nil
	}
	last := -1
	for _, sc := range cfg.Syscalls {
		for _, name := range sc.Names {
			if nr, err := libseccomp.GetSyscallFromName(name); err == nil && int(nr) > last {
				last = int(nr)
			}
		}
	}
	if last < 0 {
		return nil
	}
	return []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 4}, // seccomp_data.arch
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 3, K: nativeAuditArch},
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0}, // seccomp_data.nr
		{Code: unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K, Jt: 0, Jf: 1, K: uint32(last)},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
	}
}
