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

// HostFeatures says what this host can really do right now.
func HostFeatures() *features.Cgroup {
	mode := Mode()
	v1 := mode == ModeV1 || mode == ModeHybrid
	v2 := mode == ModeV2 || mode == ModeHybrid
	sd := systemdRunning()
	rdma := v1MountDir("rdma") != "" || hasV2Controller(unifiedRootFor(mode), "rdma")
	return &features.Cgroup{V1: &v1, V2: &v2, Systemd: &sd, SystemdUser: &sd, Rdma: &rdma}
}

func unifiedRootFor(mode string) string {
	switch mode {
	case ModeV2:
		return cgroupRoot
	case ModeHybrid:
		return unifiedDir()
	}
	return ""
}
