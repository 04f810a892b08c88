package specs

import (
	"slices"
	"strings"

	"github.com/moby/sys/capability"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
)

// Version is myrun's version, set at link time with
// -ldflags "-X github.com/myrun-org/myrun/specs.Version=1.2.3".
var Version = "dev"

// VersionAnnotation is the features annotation carrying Version.
const VersionAnnotation = "run.myrun.version"

// Hooks are the hook kinds we run.
var Hooks = []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}

// MountOptions are the generic mount options (not filesystem data) that
// the rootfs package must understand: flags, their clearing counterparts,
// recursive (mount_setattr) variants, propagation, tmpcopyup and the
// idmapped-mount options.
var MountOptions = []string{
	"async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec",
	"idmap", "iversion", "lazytime", "loud", "mand", "noatime", "nodev", "nodiratime",
	"noexec", "noiversion", "nolazytime", "nomand", "norelatime", "nostrictatime",
	"nosuid", "nosymfollow", "private", "ratime", "rbind", "rdev", "rdiratime",
	"relatime", "remount", "rexec", "ridmap", "rnoatime", "rnodev", "rnodiratime", "rnoexec",
	"rnorelatime", "rnostrictatime", "rnosuid", "rnosymfollow", "ro", "rprivate",
	"rrelatime", "rro", "rrw", "rshared", "rslave", "rstrictatime", "rsuid",
	"rsymfollow", "runbindable", "rw", "shared", "silent", "slave", "strictatime",
	"suid", "symfollow", "sync", "tmpcopyup", "unbindable",
}

// Namespaces are the namespace types we create and join, sorted.
var Namespaces = []string{"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"}

// Features returns the `myrun features` document. The mechanisms report
// their own support (seccomp from libseccomp, cgroup drivers); may be nil,
// meaning "unknown".
func Features(seccomp *features.Seccomp, cgroup *features.Cgroup) *features.Features {
	f, t := false, true
	return &features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: rspec.Version,
		Hooks:         slices.Clone(Hooks),
		MountOptions:  slices.Clone(MountOptions),
		Linux: &features.Linux{
			Namespaces:   slices.Clone(Namespaces),
			Capabilities: KnownCapabilities(),
			Cgroup:       cgroup,
			Seccomp:      seccomp,
			// "Compiled in" support, whatever the host offers: AppArmor
			// profiles and SELinux labels are applied where the host has
			// the LSM (and refused where it does not); no RDT or
			// net-device code.
			Apparmor:        &features.Apparmor{Enabled: &t},
			Selinux:         &features.Selinux{Enabled: &t},
			IntelRdt:        &features.IntelRdt{Enabled: &f},
			MountExtensions: &features.MountExtensions{IDMap: &features.IDMap{Enabled: &t}},
			NetDevices:      &features.NetDevices{Enabled: &f},
		},
		Annotations: map[string]string{VersionAnnotation: Version},
	}
}

// KnownCapabilities lists every capability name moby/sys/capability knows
// (the same set validation accepts), as CAP_* in kernel order.
func KnownCapabilities() []string {
	var out []string
	for _, c := range capability.ListKnown() {
		out = append(out, "CAP_"+strings.ToUpper(c.String()))
	}
	return out
}
