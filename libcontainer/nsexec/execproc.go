package nsexec

import (
	"fmt"
	"strconv"
	"strings"
)

// Rlimit is one prepared process.rlimits entry.
type Rlimit struct {
	Resource   int
	Soft, Hard uint64
	Name       string // the spec's name, for errors
}

// ExecProcess is a process the constructor execs itself, without starting
// Go (execproc.c): everything is resolved by the parent, so the C side
// only applies it.
type ExecProcess struct {
	Args           []string
	Env            []string // deduplicated by Env
	LookupHome     bool     // HOME unset or empty: fill it from the container's /etc/passwd
	Cwd            string
	UID, GID       uint32
	AdditionalGids []uint32
	Umask          *uint32
	NoNewPrivs     bool
	Rlimits        []Rlimit
	LastCap        int
	Caps           [5]uint64 // bounding, effective, permitted, inheritable, ambient
	FirstFd        int       // fds from here on are closed at execve
	Terminal       bool      // make a pty and send its master to ConsoleFd
	ConsoleFd      int       // the connected console socket, as init's fd; -1 for none
	Rows, Cols     uint      // process.consoleSize, 0 when unset
	SeccompFlags   uint
	SeccompProgram []byte // raw struct sock_filter array; nil for none
}

// Encode renders the packet execproc.c parses: NUL-terminated key=value
// fields. Strings with a NUL cannot be passed to execve and are rejected.
func (p *ExecProcess) Encode() ([]byte, error) {
	var b strings.Builder
	field := func(k, v string) error {
		if strings.IndexByte(v, 0) >= 0 {
			return fmt.Errorf("process: %s value contains a NUL byte", k)
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
		b.WriteByte(0)
		return nil
	}
	for _, a := range p.Args {
		if err := field("a", a); err != nil {
			return nil, err
		}
	}
	for _, e := range p.Env {
		if err := field("e", e); err != nil {
			return nil, err
		}
	}
	if err := field("cwd", p.Cwd); err != nil {
		return nil, err
	}
	if p.LookupHome {
		field("home", "1")
	}
	field("uid", strconv.FormatUint(uint64(p.UID), 10))
	field("gid", strconv.FormatUint(uint64(p.GID), 10))
	for _, g := range p.AdditionalGids {
		field("g", strconv.FormatUint(uint64(g), 10))
	}
	if p.Umask != nil {
		field("umask", strconv.FormatUint(uint64(*p.Umask), 10))
	}
	if p.NoNewPrivs {
		field("nnp", "1")
	}
	for _, r := range p.Rlimits {
		if strings.ContainsAny(r.Name, " \x00") {
			return nil, fmt.Errorf("process.rlimits: bad type %q", r.Name)
		}
		field("rl", fmt.Sprintf("%d %d %d %s", r.Resource, r.Soft, r.Hard, r.Name))
	}
	field("last", strconv.Itoa(p.LastCap))
	for i, k := range []string{"capb", "cape", "capp", "capi", "capa"} {
		field(k, strconv.FormatUint(p.Caps[i], 16))
	}
	field("fd", strconv.Itoa(p.FirstFd))
	if p.Terminal {
		field("tty", "1")
		if p.ConsoleFd >= 0 {
			field("console", strconv.Itoa(p.ConsoleFd))
		}
		if p.Rows > 0 && p.Cols > 0 {
			field("tsize", fmt.Sprintf("%d %d", p.Rows, p.Cols))
		}
	}
	if p.SeccompProgram != nil {
		field("sf", strconv.FormatUint(uint64(p.SeccompFlags), 10))
		field("sp", fmt.Sprintf("%x", p.SeccompProgram))
	}
	return []byte(b.String()), nil
}
