package userns

import (
	"fmt"
	"strconv"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// ParseMap reads the lines "inside outside count" of a /proc uid_map or
// gid_map (outside: ids of the reader's own user namespace).
func ParseMap(text string) ([]rspec.LinuxIDMapping, error) {
	var ms []rspec.LinuxIDMapping
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("bad line %q", line)
		}
		var n [3]uint32
		for i := range f {
			v, err := strconv.ParseUint(f[i], 10, 32)
			if err != nil {
				return nil, fmt.Errorf("bad line %q", line)
			}
			n[i] = uint32(v)
		}
		ms = append(ms, rspec.LinuxIDMapping{ContainerID: n[0], HostID: n[1], Size: n[2]})
	}
	return ms, nil
}
