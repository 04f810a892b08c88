package seccomp

import (
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Load compiles cfg and installs it for every thread of the calling process
// (TSYNC). The caller should have its OS thread locked and execve right
// after. It returns the listener fd (close-on-exec) when a rule uses
// SCMP_ACT_NOTIFY, else -1. Without no_new_privs it needs CAP_SYS_ADMIN.
func Load(cfg *specs.LinuxSeccomp) (int, error) {
	f, err := Build(cfg)
	if err != nil || f == nil {
		return -1, err
	}
	return f.Load()
}

// Load installs an already built filter; see the package-level Load.
func (f *Filter) Load() (int, error) {
	return loadProgram(f.prog, f.flags, f.notify)
}

// Raw returns the compiled program as the kernel reads it (struct
// sock_filter array, native byte order) and the seccomp(2) flags to load
// it with, for a loader outside Go (the constructor's exec path). A filter
// with a listener has no raw form: its fd must reach the agent.
func (f *Filter) Raw() (prog []byte, flags uint, ok bool) {
	if f.notify || len(f.prog) == 0 {
		return nil, 0, false
	}
	size := int(unsafe.Sizeof(f.prog[0]))
	prog = make([]byte, len(f.prog)*size)
	copy(prog, unsafe.Slice((*byte)(unsafe.Pointer(&f.prog[0])), len(prog)))
	return prog, loadFlags(f.flags, false), true
}
