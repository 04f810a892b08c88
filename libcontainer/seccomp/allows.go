package seccomp

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// Allows runs the compiled program, as the kernel would, for syscall nr
// with args on the native architecture and reports whether the call would
// be let through (SECCOMP_RET_ALLOW or SECCOMP_RET_LOG). Anything it
// cannot decide (an instruction outside what libseccomp and our ENOSYS
// stub emit, a jump out of the program, an architecture without a native
// audit number) counts as not allowed. Init asks it whether its own
// prlimit64 calls may come after the filter is loaded.
func (f *Filter) Allows(nr uint32, args [6]uint64) bool {
	if f == nil || len(f.prog) == 0 {
		return true
	}
	if nativeAuditArch == 0 {
		return false
	}
	// struct seccomp_data: nr, arch, instruction_pointer, args[6], in
	// native (little-endian) byte order.
	var data [64]byte
	binary.LittleEndian.PutUint32(data[0:], nr)
	binary.LittleEndian.PutUint32(data[4:], nativeAuditArch)
	for i, a := range args {
		binary.LittleEndian.PutUint64(data[16+8*i:], a)
	}
	ret, ok := runBPF(f.prog, data[:])
	if !ok {
		return false
	}
	act := ret & unix.SECCOMP_RET_ACTION_FULL
	return act == unix.SECCOMP_RET_ALLOW || act == unix.SECCOMP_RET_LOG
}

// runBPF interprets a classic BPF program over a seccomp_data packet: the
// loads (32-bit words at aligned offsets, immediates, the scratch memory),
// the ALU operations with a constant or X, the conditional jumps and the
// returns. ok is false for anything else.
func runBPF(prog []unix.SockFilter, data []byte) (ret uint32, ok bool) {
	var a, x uint32
	var mem [16]uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			if in.K%4 != 0 || int(in.K)+4 > len(data) {
				return 0, false
			}
			a = binary.LittleEndian.Uint32(data[in.K:])
		case unix.BPF_LD | unix.BPF_IMM:
			a = in.K
		case unix.BPF_LDX | unix.BPF_IMM:
			x = in.K
		case unix.BPF_LD | unix.BPF_MEM, unix.BPF_LDX | unix.BPF_MEM, unix.BPF_ST, unix.BPF_STX:
			if in.K >= uint32(len(mem)) {
				return 0, false
			}
			switch in.Code {
			case unix.BPF_LD | unix.BPF_MEM:
				a = mem[in.K]
			case unix.BPF_LDX | unix.BPF_MEM:
				x = mem[in.K]
			case unix.BPF_ST:
				mem[in.K] = a
			default:
				mem[in.K] = x
			}
		case unix.BPF_MISC | unix.BPF_TAX:
			x = a
		case unix.BPF_MISC | unix.BPF_TXA:
			a = x
		case unix.BPF_RET | unix.BPF_K:
			return in.K, true
		case unix.BPF_RET | unix.BPF_A:
			return a, true
		default:
			var next int
			ok = false
			switch in.Code & 0x07 {
			case unix.BPF_ALU:
				a, ok = alu(in, a, x)
			case unix.BPF_JMP:
				next, ok = jump(in, a, x)
				pc += next
			}
			if !ok {
				return 0, false
			}
		}
	}
	return 0, false // fell off the end: the kernel refuses such a program
}

func alu(in unix.SockFilter, a, x uint32) (uint32, bool) {
	v := in.K
	if in.Code&unix.BPF_X != 0 {
		v = x
	}
	switch in.Code &^ unix.BPF_X {
	case unix.BPF_ALU | unix.BPF_AND:
		return a & v, true
	case unix.BPF_ALU | unix.BPF_OR:
		return a | v, true
	case unix.BPF_ALU | unix.BPF_ADD:
		return a + v, true
	case unix.BPF_ALU | unix.BPF_SUB:
		return a - v, true
	case unix.BPF_ALU | unix.BPF_RSH:
		return a >> (v & 31), true
	case unix.BPF_ALU | unix.BPF_LSH:
		return a << (v & 31), true
	}
	return 0, false
}

// jump returns how many instructions to skip after this one.
func jump(in unix.SockFilter, a, x uint32) (int, bool) {
	if in.Code == unix.BPF_JMP|unix.BPF_JA {
		return int(in.K), true
	}
	v := in.K
	if in.Code&unix.BPF_X != 0 {
		v = x
	}
	var taken bool
	switch in.Code &^ unix.BPF_X {
	case unix.BPF_JMP | unix.BPF_JEQ:
		taken = a == v
	case unix.BPF_JMP | unix.BPF_JGT:
		taken = a > v
	case unix.BPF_JMP | unix.BPF_JGE:
		taken = a >= v
	case unix.BPF_JMP | unix.BPF_JSET:
		taken = a&v != 0
	default:
		return 0, false
	}
	if taken {
		return int(in.Jt), true
	}
	return int(in.Jf), true
}
