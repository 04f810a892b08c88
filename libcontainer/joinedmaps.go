package libcontainer

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// checkJoinedMaps holds the id mappings of a config that joins an existing
// user namespace (linux.namespaces path) to that namespace's own: nothing
// writes them there, so ones that differ would be ignored while the user
// believes they apply. runc 1.1 requires them with a path, so engines
// (myimg, podman) send them; equal ones are accepted. init is already in
// the namespace, and /proc/<init>/{uid,gid}_map show its maps as the host
// ids of our own namespace, the form the config uses.
func checkJoinedMaps(spec *rspec.Spec, pid int) error {
	if _, path := hasNS(spec, rspec.UserNamespace); path == "" || spec.Linux == nil {
		return nil
	}
	for _, m := range []struct {
		field, file string
		want        []rspec.LinuxIDMapping
	}{{"linux.uidMappings", "uid_map", spec.Linux.UIDMappings}, {"linux.gidMappings", "gid_map", spec.Linux.GIDMappings}} {
		if len(m.want) == 0 {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, m.file))
		if err != nil {
			return fmt.Errorf("%s: read the joined user namespace's map: %w", m.field, err)
		}
		have, err := parseIDMap(string(b))
		if err != nil {
			return fmt.Errorf("%s: /proc/%d/%s: %w", m.field, pid, m.file, err)
		}
		if !sameMaps(m.want, have) {
			return fmt.Errorf("%s: %s do not match the user namespace joined by path, whose map is %s",
				m.field, fmtMaps(m.want), fmtMaps(have))
		}
	}
	return nil
}

// parseIDMap reads the lines "inside outside count" of a /proc uid_map.
func parseIDMap(text string) ([]rspec.LinuxIDMapping, error) {
	var ms []rspec.LinuxIDMapping
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		var n [3]uint64
		if len(f) != 3 {
			return nil, fmt.Errorf("bad line %q", line)
		}
		for i := range f {
			v, err := strconv.ParseUint(f[i], 10, 32)
			if err != nil {
				return nil, fmt.Errorf("bad line %q", line)
			}
			n[i] = v
		}
		ms = append(ms, rspec.LinuxIDMapping{ContainerID: uint32(n[0]), HostID: uint32(n[1]), Size: uint32(n[2])})
	}
	return ms, nil
}

// sameMaps compares two mappings as sets of ranges (order does not matter
// to the kernel).
func sameMaps(a, b []rspec.LinuxIDMapping) bool {
	key := func(m rspec.LinuxIDMapping) string { return fmt.Sprint(m.ContainerID, m.HostID, m.Size) }
	ka, kb := make([]string, 0, len(a)), make([]string, 0, len(b))
	for _, m := range a {
		ka = append(ka, key(m))
	}
	for _, m := range b {
		kb = append(kb, key(m))
	}
	slices.Sort(ka)
	slices.Sort(kb)
	return slices.Equal(ka, kb)
}

func fmtMaps(ms []rspec.LinuxIDMapping) string {
	parts := make([]string, 0, len(ms))
	for _, m := range ms {
		parts = append(parts, fmt.Sprintf("%d:%d:%d", m.ContainerID, m.HostID, m.Size))
	}
	return "[" + strings.Join(parts, " ") + "]"
}
