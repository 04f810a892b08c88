// Package userns gives rootless myimg the caller's subordinate id ranges
// (/etc/subuid, /etc/subgid) as the uid/gid maps of a user namespace,
// written through the setuid helpers newuidmap and newgidmap.
package userns

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// Files holding the subordinate ranges (variables for tests).
var (
	SubUIDFile = "/etc/subuid"
	SubGIDFile = "/etc/subgid"
)

// Range is one subordinate range of host ids.
type Range struct{ Start, Count uint32 }

// ParseSubIDs returns the ranges granted to the user named name or with
// numeric id in the subuid/subgid format "owner:start:count".
func ParseSubIDs(r io.Reader, file, name string, id int) ([]Range, error) {
	var out []Range
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Split(l, ":")
		if len(f) != 3 {
			return nil, fmt.Errorf("%s:%d: want owner:start:count, got %q", file, n, l)
		}
		if f[0] != name && f[0] != strconv.Itoa(id) {
			continue
		}
		start, err1 := strconv.ParseUint(f[1], 10, 32)
		count, err2 := strconv.ParseUint(f[2], 10, 32)
		if err1 != nil || err2 != nil || count == 0 || start+count > 1<<32-1 {
			return nil, fmt.Errorf("%s:%d: bad range %q", file, n, l)
		}
		out = append(out, Range{uint32(start), uint32(count)})
	}
	return out, sc.Err()
}

// Mapping builds the maps of a rootless namespace: container id 0 is
// the caller's own id, 1.. are the subordinate ranges in order.
func Mapping(self uint32, ranges []Range) []rspec.LinuxIDMapping {
	m := []rspec.LinuxIDMapping{{ContainerID: 0, HostID: self, Size: 1}}
	next := uint32(1)
	for _, r := range ranges {
		m = append(m, rspec.LinuxIDMapping{ContainerID: next, HostID: r.Start, Size: r.Count})
		next += r.Count
	}
	return m
}

// Maps are the uid and gid maps for the caller.
type Maps struct {
	UIDs []rspec.LinuxIDMapping `json:"uidMap,omitempty"`
	GIDs []rspec.LinuxIDMapping `json:"gidMap,omitempty"`
}

// Multi reports whether the maps need newuidmap/newgidmap.
func (m Maps) Multi() bool { return len(m.UIDs) > 1 || len(m.GIDs) > 1 }

// SingleWarning is printed when the caller has no subordinate ranges, as
// podman does before it falls back to mapping only the caller's id.
const SingleWarning = "WARN: no subordinate ids for %s in %s and %s: using a single mapping (container root only); " +
	"images with a non-root USER and -u will fail. Add ranges with usermod --add-subuids/--add-subgids."

// ForCaller reads the caller's ranges. Without ranges in either file it
// returns the single mapping and a warning (podman's behaviour); with
// ranges but no newuidmap/newgidmap it fails.
func ForCaller() (Maps, string, error) {
	uid, gid := os.Geteuid(), os.Getegid()
	name := strconv.Itoa(uid)
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	read := func(file string) ([]Range, error) {
		f, err := os.Open(file)
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return ParseSubIDs(f, file, name, uid)
	}
	us, err := read(SubUIDFile)
	if err != nil {
		return Maps{}, "", err
	}
	gs, err := read(SubGIDFile)
	if err != nil {
		return Maps{}, "", err
	}
	if len(us) == 0 || len(gs) == 0 {
		single := Maps{UIDs: Mapping(uint32(uid), nil), GIDs: Mapping(uint32(gid), nil)}
		return single, fmt.Sprintf(SingleWarning, name, SubUIDFile, SubGIDFile), nil
	}
	for _, tool := range []string{"newuidmap", "newgidmap"} {
		if _, err := exec.LookPath(tool); err != nil {
			return Maps{}, "", fmt.Errorf("rootless: %s has subordinate ids in %s, but %s is not installed (Debian package uidmap): %w",
				name, SubUIDFile, tool, err)
		}
	}
	return Maps{UIDs: Mapping(uint32(uid), us), GIDs: Mapping(uint32(gid), gs)}, "", nil
}

// Apply writes m for pid, a process that just made a user namespace,
// through newuidmap and newgidmap.
func Apply(pid int, m Maps) error {
	if err := helper("newuidmap", SubUIDFile, pid, m.UIDs); err != nil {
		return err
	}
	return helper("newgidmap", SubGIDFile, pid, m.GIDs)
}

func helper(tool, grants string, pid int, m []rspec.LinuxIDMapping) error {
	args := []string{strconv.Itoa(pid)}
	for _, e := range m {
		args = append(args, strconv.FormatUint(uint64(e.ContainerID), 10),
			strconv.FormatUint(uint64(e.HostID), 10), strconv.FormatUint(uint64(e.Size), 10))
	}
	out, err := exec.Command(tool, args...).CombinedOutput()
	if errors.Is(err, exec.ErrNotFound) {
		return fmt.Errorf("rootless: %s is not installed (Debian package uidmap): %w", tool, err)
	}
	if err != nil {
		return fmt.Errorf("rootless: %s %s: %w: %s (ranges must be granted in %s)",
			tool, strings.Join(args, " "), err, strings.TrimSpace(string(out)), grants)
	}
	return nil
}

// Overflow is the id the kernel shows for an unmapped one.
const Overflow = 65534

// ToContainer maps host ids back to container ids through m (the owners
// a file has as seen inside the namespace); unmapped ids become Overflow.
func (m Maps) ToContainer(uid, gid uint32) (uint32, uint32) {
	return back(m.UIDs, uid), back(m.GIDs, gid)
}

func back(m []rspec.LinuxIDMapping, id uint32) uint32 {
	for _, e := range m {
		if id >= e.HostID && id-e.HostID < e.Size {
			return e.ContainerID + (id - e.HostID)
		}
	}
	return Overflow
}
