package libcontainer

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/myrun-org/myrun/libcontainer/internal/smallfile"
	"github.com/myrun-org/myrun/libcontainer/userns"
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
		b, err := smallfile.Read(fmt.Sprintf("/proc/%d/%s", pid, m.file))
		if err != nil {
			return fmt.Errorf("%s: read the joined user namespace's map: %w", m.field, err)
		}
		have, err := userns.ParseMap(string(b))
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

// sameMaps compares two mappings as sets of ranges (order does not matter
// to the kernel).
func sameMaps(a, b []rspec.LinuxIDMapping) bool {
	byStart := func(x, y rspec.LinuxIDMapping) int { return cmp.Compare(x.ContainerID, y.ContainerID) }
	a, b = slices.Clone(a), slices.Clone(b)
	slices.SortFunc(a, byStart)
	slices.SortFunc(b, byStart)
	return slices.Equal(a, b)
}

func fmtMaps(ms []rspec.LinuxIDMapping) string {
	parts := make([]string, 0, len(ms))
	for _, m := range ms {
		parts = append(parts, fmt.Sprintf("%d:%d:%d", m.ContainerID, m.HostID, m.Size))
	}
	return "[" + strings.Join(parts, " ") + "]"
}
