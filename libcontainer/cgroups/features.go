package cgroups

import "github.com/opencontainers/runtime-spec/specs-go/features"

// Features reports the cgroup support built into myrun. The spec defines
// these fields as "compiled in, unrelated to the host", so all are true:
// v1 (also hybrid), v2, the systemd driver (system and user instance,
// usable where systemd runs) and the rdma controller are implemented.
func Features() *features.Cgroup {
	t := true
	return &features.Cgroup{V1: &t, V2: &t, Systemd: &t, SystemdUser: &t, Rdma: &t}
}
