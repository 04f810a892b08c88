package specs

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// handledFields are the runtime-spec fields myrun applies, by JSON path
// ("[]" a list element, "*" a map value), each with where it is applied.
// A field that is only validated does not belong here.
var handledFields = map[string]string{
	"ociVersion":       "specs.checkVersion",
	"process.terminal": "initproc console", "process.consoleSize.height": "console.SetSize", "process.consoleSize.width": "console.SetSize",
	"process.user.uid": "initproc.setUser", "process.user.gid": "initproc.setUser", "process.user.umask": "initproc umask",
	"process.user.additionalGids[]": "initproc.setUser",
	"process.args[]":                "initproc exec", "process.env[]": "initproc exec", "process.cwd": "initproc.chdirChecked",
	"process.capabilities.bounding[]": "caps", "process.capabilities.effective[]": "caps",
	"process.capabilities.inheritable[]": "caps", "process.capabilities.permitted[]": "caps", "process.capabilities.ambient[]": "caps",
	"process.rlimits[].type": "initproc.setRlimits", "process.rlimits[].hard": "initproc.setRlimits", "process.rlimits[].soft": "initproc.setRlimits",
	"process.noNewPrivileges": "prctl PR_SET_NO_NEW_PRIVS", "process.apparmorProfile": "initproc.applyApparmor (refused without AppArmor)",
	"process.oomScoreAdj":      "libcontainer.place",
	"process.scheduler.policy": "initproc.applyScheduling", "process.scheduler.nice": "initproc.applyScheduling",
	"process.scheduler.priority": "initproc.applyScheduling", "process.scheduler.flags[]": "initproc.applyScheduling",
	"process.scheduler.runtime": "initproc.applyScheduling", "process.scheduler.deadline": "initproc.applyScheduling",
	"process.scheduler.period": "initproc.applyScheduling", "process.selinuxLabel": "initproc.applySelinux (refused without SELinux)",
	"process.ioPriority.class": "initproc.applyScheduling", "process.ioPriority.priority": "initproc.applyScheduling",
	"process.execCPUAffinity.initial": "libcontainer.spawn (before the cgroup)", "process.execCPUAffinity.final": "libcontainer.spawn (after the cgroup)",
	"root.path": "rootfs", "root.readonly": "rootfs.Finalize",
	"hostname": "initproc sethostname", "domainname": "initproc setdomainname",
	"mounts[].destination": "rootfs", "mounts[].type": "rootfs", "mounts[].source": "rootfs", "mounts[].options[]": "rootfs",
	"mounts[].uidMappings[].containerID": "rootfs.IDMappedTrees", "mounts[].uidMappings[].hostID": "rootfs.IDMappedTrees",
	"mounts[].uidMappings[].size": "rootfs.IDMappedTrees", "mounts[].gidMappings[].containerID": "rootfs.IDMappedTrees",
	"mounts[].gidMappings[].hostID": "rootfs.IDMappedTrees", "mounts[].gidMappings[].size": "rootfs.IDMappedTrees",
	"annotations.*":                   "state and hook state, seccomp listener",
	"linux.uidMappings[].containerID": "userns.WriteMaps", "linux.uidMappings[].hostID": "userns.WriteMaps", "linux.uidMappings[].size": "userns.WriteMaps",
	"linux.gidMappings[].containerID": "userns.WriteMaps", "linux.gidMappings[].hostID": "userns.WriteMaps", "linux.gidMappings[].size": "userns.WriteMaps",
	"linux.sysctl.*":                  "initproc sysctl",
	"linux.resources.devices[].allow": "cgroups devices", "linux.resources.devices[].type": "cgroups devices",
	"linux.resources.devices[].major": "cgroups devices", "linux.resources.devices[].minor": "cgroups devices",
	"linux.resources.devices[].access": "cgroups devices",
	"linux.resources.memory.limit":     "cgroups", "linux.resources.memory.reservation": "cgroups", "linux.resources.memory.swap": "cgroups",
	"linux.resources.memory.kernel":     "cgroups (warned: deprecated, not enforced by the kernel)",
	"linux.resources.memory.kernelTCP":  "cgroups (warned: deprecated, not enforced by the kernel)",
	"linux.resources.memory.swappiness": "cgroups", "linux.resources.memory.disableOOMKiller": "cgroups",
	"linux.resources.memory.useHierarchy":      "true is the kernel's only behaviour; false refused (checkSpecFields)",
	"linux.resources.memory.checkBeforeUpdate": "cgroups update",
	"linux.resources.cpu.shares":               "cgroups", "linux.resources.cpu.quota": "cgroups", "linux.resources.cpu.burst": "cgroups",
	"linux.resources.cpu.period": "cgroups", "linux.resources.cpu.realtimeRuntime": "cgroups", "linux.resources.cpu.realtimePeriod": "cgroups",
	"linux.resources.cpu.cpus": "cgroups cpuset", "linux.resources.cpu.mems": "cgroups cpuset", "linux.resources.cpu.idle": "cgroups",
	"linux.resources.pids.limit":     "cgroups",
	"linux.resources.blockIO.weight": "cgroups", "linux.resources.blockIO.leafWeight": "cgroups",
	"linux.resources.blockIO.weightDevice[].major": "cgroups", "linux.resources.blockIO.weightDevice[].minor": "cgroups",
	"linux.resources.blockIO.weightDevice[].weight": "cgroups", "linux.resources.blockIO.weightDevice[].leafWeight": "cgroups",
	"linux.resources.blockIO.throttleReadBpsDevice[].major": "cgroups", "linux.resources.blockIO.throttleReadBpsDevice[].minor": "cgroups",
	"linux.resources.blockIO.throttleReadBpsDevice[].rate":   "cgroups",
	"linux.resources.blockIO.throttleWriteBpsDevice[].major": "cgroups", "linux.resources.blockIO.throttleWriteBpsDevice[].minor": "cgroups",
	"linux.resources.blockIO.throttleWriteBpsDevice[].rate":  "cgroups",
	"linux.resources.blockIO.throttleReadIOPSDevice[].major": "cgroups", "linux.resources.blockIO.throttleReadIOPSDevice[].minor": "cgroups",
	"linux.resources.blockIO.throttleReadIOPSDevice[].rate":   "cgroups",
	"linux.resources.blockIO.throttleWriteIOPSDevice[].major": "cgroups", "linux.resources.blockIO.throttleWriteIOPSDevice[].minor": "cgroups",
	"linux.resources.blockIO.throttleWriteIOPSDevice[].rate": "cgroups",
	"linux.resources.hugepageLimits[].pageSize":              "cgroups", "linux.resources.hugepageLimits[].limit": "cgroups",
	"linux.resources.network.classID":               "cgroups net_cls (refused without the hierarchy)",
	"linux.resources.network.priorities[].name":     "cgroups net_prio (refused without the hierarchy)",
	"linux.resources.network.priorities[].priority": "cgroups net_prio (refused without the hierarchy)",
	"linux.resources.rdma.*.hcaHandles":             "cgroups rdma", "linux.resources.rdma.*.hcaObjects": "cgroups rdma",
	"linux.resources.unified.*": "cgroups (cgroup2 files)",
	"linux.cgroupsPath":         "cgroups", "linux.namespaces[].type": "nsexec bootstrap", "linux.namespaces[].path": "nsexec bootstrap",
	"linux.devices[].path": "rootfs devices", "linux.devices[].type": "rootfs devices", "linux.devices[].major": "rootfs devices",
	"linux.devices[].minor": "rootfs devices", "linux.devices[].fileMode": "rootfs devices", "linux.devices[].uid": "rootfs devices",
	"linux.devices[].gid":         "rootfs devices",
	"linux.netDevices.*.name":     "netdev.Move",
	"linux.seccomp.defaultAction": "seccomp.Build", "linux.seccomp.defaultErrnoRet": "seccomp.Build",
	"linux.seccomp.architectures[]": "seccomp.Build", "linux.seccomp.flags[]": "seccomp.Build",
	"linux.seccomp.listenerPath": "seccomp notify", "linux.seccomp.listenerMetadata": "seccomp notify",
	"linux.seccomp.syscalls[].names[]": "seccomp.Build", "linux.seccomp.syscalls[].action": "seccomp.Build",
	"linux.seccomp.syscalls[].errnoRet": "seccomp.Build", "linux.seccomp.syscalls[].args[].index": "seccomp.Build",
	"linux.seccomp.syscalls[].args[].value": "seccomp.Build", "linux.seccomp.syscalls[].args[].valueTwo": "seccomp.Build",
	"linux.seccomp.syscalls[].args[].op": "seccomp.Build",
	"linux.rootfsPropagation":            "rootfs", "linux.maskedPaths[]": "rootfs.Finalize", "linux.readonlyPaths[]": "rootfs.Finalize",
	"linux.mountLabel":      "rootfs mounts (warned and ignored without SELinux, as runc)",
	"linux.intelRdt.closID": "resctrl", "linux.intelRdt.schemata[]": "resctrl", "linux.intelRdt.l3CacheSchema": "resctrl",
	"linux.intelRdt.memBwSchema": "resctrl", "linux.intelRdt.enableMonitoring": "resctrl",
	"linux.memoryPolicy.mode": "initproc.applyMemoryPolicy", "linux.memoryPolicy.nodes": "initproc.applyMemoryPolicy",
	"linux.memoryPolicy.flags[]": "initproc.applyMemoryPolicy",
	"linux.personality.domain":   "initproc.applyScheduling",
	"linux.timeOffsets.*.secs":   "nsexec timens_offsets", "linux.timeOffsets.*.nanosecs": "nsexec timens_offsets",
	"hooks.prestart[]": "hooks.Run", "hooks.createRuntime[]": "hooks.Run", "hooks.createContainer[]": "hooks.Run",
	"hooks.startContainer[]": "hooks.Run", "hooks.poststart[]": "hooks.Run", "hooks.poststop[]": "hooks.Run",
}

// hookFields are the fields of every hook, handled by hooks.Run.
var hookFields = []string{"path", "args[]", "env[]", "timeout"}

// refusedFields are refused with an error naming them (checkSpecFields);
// a whole subtree when the path is a struct.
var refusedFields = map[string]string{
	"windows":                   "Windows containers: not a Linux runtime's job",
	"solaris":                   "Solaris zones: not a Linux runtime's job",
	"vm":                        "virtual-machine containers: not this runtime",
	"zos":                       "z/OS: not a Linux runtime's job",
	"freebsd":                   "FreeBSD jails: not a Linux runtime's job",
	"process.commandLine":       "Windows only",
	"process.user.username":     "Windows only",
	"linux.personality.flags[]": "the runtime spec defines no flag values",
}

// specPaths walks t and returns the JSON path of every leaf field, not
// descending into refused subtrees.
func specPaths(t reflect.Type, prefix string, out *[]string) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		switch t.Kind() {
		case reflect.Slice:
			prefix += "[]"
		case reflect.Map:
			prefix += ".*"
		}
		t = t.Elem()
	}
	if _, refused := refusedFields[prefix]; refused || t.Kind() != reflect.Struct {
		*out = append(*out, prefix)
		return
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" {
			specPaths(f.Type, prefix, out) // embedded: its fields are inline
			continue
		}
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		p := name
		if prefix != "" {
			p = prefix + "." + name
		}
		specPaths(f.Type, p, out)
	}
}

// A new runtime-spec field fails this test until it is applied (and listed
// in handledFields) or refused with an error naming it (refusedFields and
// checkSpecFields).
func TestEveryFieldHandledOrRefused(t *testing.T) {
	handled := map[string]string{}
	for k, v := range handledFields {
		if strings.HasPrefix(k, "hooks.") {
			for _, f := range hookFields {
				handled[k+"."+f] = v
			}
			continue
		}
		handled[k] = v
	}
	var paths []string
	specPaths(reflect.TypeOf(rspec.Spec{}), "", &paths)
	if len(paths) < 150 {
		t.Fatalf("walk found only %d fields: %v", len(paths), paths)
	}
	seen := map[string]bool{}
	for _, p := range paths {
		seen[p] = true
		_, h := handled[p]
		reason, r := refusedFields[p]
		switch {
		case h && r:
			t.Errorf("%s: both handled and refused", p)
		case !h && !r:
			t.Errorf("%s: a runtime-spec field neither handled nor refused: apply it or refuse it by name (checkSpecFields)", p)
		case r && reason == "":
			t.Errorf("%s: refused without a reason", p)
		}
	}
	for p := range handled {
		if !seen[p] {
			t.Errorf("handledFields lists %s, which the spec types do not have", p)
		}
	}
	for p := range refusedFields {
		if !seen[p] {
			t.Errorf("refusedFields lists %s, which the spec types do not have", p)
		}
	}
}

// Each refused field is refused by validation, naming it.
func TestRefusedFieldsAreRefused(t *testing.T) {
	uf := false
	cases := map[string]func(s *rspec.Spec){
		"windows":               func(s *rspec.Spec) { s.Windows = &rspec.Windows{} },
		"solaris":               func(s *rspec.Spec) { s.Solaris = &rspec.Solaris{} },
		"vm":                    func(s *rspec.Spec) { s.VM = &rspec.VM{} },
		"zos":                   func(s *rspec.Spec) { s.ZOS = &rspec.ZOS{} },
		"freebsd":               func(s *rspec.Spec) { s.FreeBSD = &rspec.FreeBSD{} },
		"process.commandLine":   func(s *rspec.Spec) { s.Process.CommandLine = "sh" },
		"process.user.username": func(s *rspec.Spec) { s.Process.User.Username = "root" },
		"linux.personality.flags[]": func(s *rspec.Spec) {
			s.Linux.Personality = &rspec.LinuxPersonality{Domain: rspec.PerLinux, Flags: []rspec.LinuxPersonalityFlag{"x"}}
		},
		"linux.resources.memory.useHierarchy": func(s *rspec.Spec) {
			s.Linux.Resources = &rspec.LinuxResources{Memory: &rspec.LinuxMemory{UseHierarchy: &uf}}
		},
	}
	for field := range refusedFields {
		if cases[field] == nil {
			t.Errorf("%s: no case shows that it is refused", field)
		}
	}
	for _, field := range slices.Sorted(func(yield func(string) bool) {
		for k := range cases {
			if !yield(k) {
				return
			}
		}
	}) {
		s := &rspec.Spec{Process: &rspec.Process{Args: []string{"sh"}, Cwd: "/"}, Linux: &rspec.Linux{}}
		cases[field](s)
		var p problems
		checkSpecFields(&p, s)
		if err := p.err(); err == nil || !strings.Contains(err.Error(), strings.TrimSuffix(field, "[]")+":") {
			t.Errorf("%s: not refused by name: %v", field, err)
		}
	}
}
