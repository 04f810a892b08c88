package initproc

import (
	"fmt"
	"unsafe"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/internal/numa"
)

// applyMemoryPolicy sets linux.memoryPolicy on the calling thread, the one
// that execs: a task's NUMA policy survives execve and is inherited by
// its children.
func applyMemoryPolicy(mp *rspec.LinuxMemoryPolicy) error {
	if mp == nil {
		return nil
	}
	mode, mask, maxnode, err := memoryPolicyArgs(mp)
	if err != nil {
		return err
	}
	var maskPtr uintptr
	if len(mask) > 0 {
		maskPtr = uintptr(unsafe.Pointer(&mask[0]))
	}
	if _, _, errno := unix.Syscall(unix.SYS_SET_MEMPOLICY, uintptr(mode), maskPtr, uintptr(maxnode)); errno != 0 {
		return fmt.Errorf("linux.memoryPolicy: set_mempolicy(%s, %q): %w", mp.Mode, mp.Nodes, errno)
	}
	return nil
}

// memoryPolicyArgs turns the spec's policy into set_mempolicy's mode
// (flags or'ed in), node mask and maxnode.
func memoryPolicyArgs(mp *rspec.LinuxMemoryPolicy) (mode int, mask []uint64, maxnode int, err error) {
	mode, ok := numa.Modes[mp.Mode]
	if !ok {
		return 0, nil, 0, fmt.Errorf("linux.memoryPolicy.mode: unknown mode %q", mp.Mode)
	}
	for i, f := range mp.Flags {
		bit, ok := numa.Flags[f]
		if !ok {
			return 0, nil, 0, fmt.Errorf("linux.memoryPolicy.flags[%d]: unknown flag %q", i, f)
		}
		mode |= bit
	}
	if mp.Nodes == "" {
		return mode, nil, 0, nil
	}
	nodes, err := numa.ParseList(mp.Nodes, numa.MaxNodes)
	if err != nil {
		return 0, nil, 0, fmt.Errorf("linux.memoryPolicy.nodes: %w", err)
	}
	mask = make([]uint64, numa.MaxNodes/64)
	for _, n := range nodes {
		mask[n/64] |= 1 << (n % 64)
	}
	// maxnode counts bits; the kernel reads maxnode-1 of them.
	return mode, mask, numa.MaxNodes + 1, nil
}
