package nsexec

import (
	"fmt"
	"strings"
)

// Join asks the constructor to setns() into an existing namespace.
type Join struct {
	Flag int    // CLONE_NEW* value of the namespace type
	Path string // namespace file, e.g. /proc/123/ns/net
}

// TimeOffset is one line of /proc/self/timens_offsets.
type TimeOffset struct {
	Clock string // "monotonic" or "boottime"
	Secs  int64
	Nanos uint32
}

// Bootstrap is what the parent asks the constructor to do.
type Bootstrap struct {
	CloneFlags  uintptr // namespaces to create
	Joins       []Join
	WaitForMaps bool // the parent writes uid/gid maps after the user ns exists
	TimeOffsets []TimeOffset
	// LatePlacement: the parent puts the container process in its cgroup
	// only after the "pid" reply, so the constructor must not create the
	// cgroup namespace (it would be rooted in the wrong cgroup); Go init
	// does that once the config, sent after placement, arrives.
	LatePlacement bool
	// Exec: after "pid", the constructor receives an ExecProcess and execs
	// it without returning to Go.
	Exec bool
}

// Encode renders the bootstrap message. Paths with a newline cannot be
// expressed and are rejected rather than silently split.
func (b *Bootstrap) Encode() ([]byte, error) {
	var sb strings.Builder
	fmt.Fprintf(&sb, "clone %d\n", b.CloneFlags)
	for _, j := range b.Joins {
		if strings.ContainsAny(j.Path, "\n\x00") {
			return nil, fmt.Errorf("namespace path %q contains a newline or NUL", j.Path)
		}
		fmt.Fprintf(&sb, "join %d %s\n", j.Flag, j.Path)
	}
	if b.WaitForMaps {
		sb.WriteString("maps\n")
	}
	if b.LatePlacement {
		sb.WriteString("place\n")
	}
	if b.Exec {
		sb.WriteString("exec\n")
	}
	for _, t := range b.TimeOffsets {
		fmt.Fprintf(&sb, "timens %s %d %d\n", t.Clock, t.Secs, t.Nanos)
	}
	if sb.Len() > 8192 {
		return nil, fmt.Errorf("bootstrap message too long (%d bytes)", sb.Len())
	}
	return []byte(sb.String()), nil
}
