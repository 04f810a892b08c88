package specs

import (
	"slices"
	"strings"

	"github.com/moby/sys/capability"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"

	"github.com/myrun-org/myrun/internal/numa"
)

// Version is myrun's version, set at link time with
// -ldflags "-X github.com/myrun-org/myrun/specs.Version=1.2.3".
var Version = "dev"

// VersionAnnotation is the features annotation carrying Version.
const VersionAnnotation = "run.myrun.version"

// CheckpointAnnotation in features says checkpoint and restore are built in.
const CheckpointAnnotation = "run.myrun.checkpoint.enabled"

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
	t := true
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
			// the LSM (and refused where it does not), resctrl groups
			// where resctrl is mounted (and refused where it is not).
			Apparmor:        &features.Apparmor{Enabled: &t},
			Selinux:         &features.Selinux{Enabled: &t},
			IntelRdt:        &features.IntelRdt{Enabled: &t, Schemata: &t, Monitoring: &t},
			MemoryPolicy:    &features.MemoryPolicy{Modes: MemoryPolicyModeNames(), Flags: MemoryPolicyFlagNames()},
			MountExtensions: &features.MountExtensions{IDMap: &features.IDMap{Enabled: &t}},
			NetDevices:      &features.NetDevices{Enabled: &t},
		},
		Annotations: map[string]string{VersionAnnotation: Version,
			// checkpoint/restore through CRIU (whether CRIU runs on
			// this kernel is the host's: `criu check`).
			CheckpointAnnotation: "true"},
		// The same list as runc's: annotations an engine should not
		// pass through from an untrusted image.
		PotentiallyUnsafeConfigAnnotations: slices.Clone(UnsafeConfigAnnotations),
	}
}

// UnsafeConfigAnnotations are reported as potentially unsafe in config.json
// ("bundle", and prefixes ending in ".").
var UnsafeConfigAnnotations = []string{"bundle", "org.systemd.property.", "org.criu.config"}

// MemoryPolicyModeNames lists the memory policy modes we apply, sorted.
func MemoryPolicyModeNames() []string {
	var out []string
	for m := range numa.Modes {
		out = append(out, string(m))
	}
	slices.Sort(out)
	return out
}

// MemoryPolicyFlagNames lists the memory policy flags we apply, sorted.
func MemoryPolicyFlagNames() []string {
	var out []string
	for m := range numa.Flags {
		out = append(out, string(m))
	}
	slices.Sort(out)
	return out
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
