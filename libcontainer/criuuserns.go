package libcontainer

import (
	"fmt"
	"os"

	"github.com/myrun-org/myrun/libcontainer/userns"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The tasks CRIU restores into a new user namespace open the image files
// themselves, as the container's root (the host ids mapped to 0), through
// the image directory's fd: that directory must be searchable by them
// (CRIU writes the files world-readable, the directory is ours).

// nsRootOf is the host uid and gid a container's root maps to, from
// /proc/<pid>/{uid,gid}_map; ok is false without a user namespace.
func nsRootOf(pid int) (uid, gid int, ok bool) {
	self, err1 := os.Readlink("/proc/self/ns/user")
	its, err2 := os.Readlink(fmt.Sprintf("/proc/%d/ns/user", pid))
	if err1 != nil || err2 != nil || self == its {
		return 0, 0, false
	}
	read := func(f string) (int, bool) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, f))
		if err != nil {
			return 0, false
		}
		return rootIn(string(b))
	}
	uid, ok1 := read("uid_map")
	gid, ok2 := read("gid_map")
	return uid, gid, ok1 && ok2
}

// rootIn finds the host id of container id 0 in a /proc uid_map text.
func rootIn(m string) (int, bool) {
	ms, err := userns.ParseMap(m)
	if err != nil {
		return 0, false
	}
	for _, e := range ms {
		if e.ContainerID == 0 {
			return int(e.HostID), true
		}
	}
	return 0, false
}

// specNSRoot is the same from the spec's mappings (restore).
func specNSRoot(spec *rspec.Spec) (uid, gid int, ok bool) {
	if spec.Linux == nil {
		return 0, 0, false
	}
	hasUserNS := false
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == rspec.UserNamespace {
			hasUserNS = true
		}
	}
	if !hasUserNS {
		return 0, 0, false
	}
	find := func(ms []rspec.LinuxIDMapping) (int, bool) {
		for _, m := range ms {
			if m.ContainerID == 0 && m.Size > 0 {
				return int(m.HostID), true
			}
		}
		return 0, false
	}
	uid, ok1 := find(spec.Linux.UIDMappings)
	gid, ok2 := find(spec.Linux.GIDMappings)
	return uid, gid, ok1 && ok2
}

// searchableBy says whether the directory's mode lets uid/gid search it
// (no capability in the container's user namespace covers a directory
// owned by an unmapped id).
func searchableBy(st *unix.Stat_t, uid, gid int) bool {
	switch {
	case int(st.Uid) == uid:
		return st.Mode&0o100 != 0
	case int(st.Gid) == gid:
		return st.Mode&0o010 != 0
	}
	return st.Mode&0o001 != 0
}

// checkImageDirForUserNS refuses, before CRIU runs, an image directory the
// restored tasks could not open images in.
func checkImageDirForUserNS(flag, dir string, uid, gid int) error {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return fmt.Errorf("%s: %w", flag, err)
	}
	if !searchableBy(&st, uid, gid) {
		return fmt.Errorf("%s: %s (mode %#o, owner %d:%d) is not searchable by the container's root (host uid %d, gid %d): "+
			"CRIU's restored tasks open the images as that user; chown the directory to it or make it searchable",
			flag, dir, st.Mode&0o7777, st.Uid, st.Gid, uid, gid)
	}
	return nil
}
