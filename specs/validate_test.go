package specs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func iptr(v int) *int { return &v }

func TestValidateBad(t *testing.T) {
	cases := []struct {
		name string
		mod  func(s *rspec.Spec, bundle string)
		want string // substring of the error
	}{
		{"no version", func(s *rspec.Spec, _ string) { s.Version = "" }, "config.json: ociVersion: required"},
		{"major 2", func(s *rspec.Spec, _ string) { s.Version = "2.0.0" }, `config.json: ociVersion: unsupported major version "2.0.0"`},
		{"garbage version", func(s *rspec.Spec, _ string) { s.Version = "banana" }, "ociVersion: \"banana\" is not a valid SemVer"},
		{"no root", func(s *rspec.Spec, _ string) { s.Root = nil }, "config.json: root: required"},
		{"no root path", func(s *rspec.Spec, _ string) { s.Root.Path = "" }, "root.path: required"},
		{"rootfs missing", func(s *rspec.Spec, _ string) { s.Root.Path = "nothere" }, "root.path: rootfs"},
		{"rootfs is file", func(s *rspec.Spec, _ string) { s.Root.Path = "rootfs/bin/sh" }, "is not a directory"},
		{"empty args", func(s *rspec.Spec, _ string) { s.Process.Args = nil }, "process.args: must not be empty"},
		{"relative cwd", func(s *rspec.Spec, _ string) { s.Process.Cwd = "tmp" }, `process.cwd: must be an absolute path, got "tmp"`},
		{"bad env", func(s *rspec.Spec, _ string) { s.Process.Env = []string{"A=1", "NOEQUALS"} }, "process.env[1]:"},
		{"unknown rlimit", func(s *rspec.Spec, _ string) {
			s.Process.Rlimits = []rspec.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1, Hard: 1}, {Type: "RLIMIT_FOO"}}
		}, `process.rlimits[1].type: unknown rlimit "RLIMIT_FOO"`},
		{"soft > hard", func(s *rspec.Spec, _ string) {
			s.Process.Rlimits = []rspec.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 10, Hard: 5}}
		}, "process.rlimits[0]: soft limit 10 is greater than hard limit 5"},
		{"dup rlimit", func(s *rspec.Spec, _ string) {
			s.Process.Rlimits = []rspec.POSIXRlimit{{Type: "RLIMIT_CORE"}, {Type: "RLIMIT_CORE"}}
		}, `process.rlimits[1].type: duplicate rlimit`},
		{"bad cap bounding", func(s *rspec.Spec, _ string) {
			s.Process.Capabilities = &rspec.LinuxCapabilities{Bounding: []string{"CAP_KILL", "CAP_FOO"}}
		}, `process.capabilities.bounding[1]: unknown capability "CAP_FOO"`},
		{"bad cap effective", func(s *rspec.Spec, _ string) {
			s.Process.Capabilities = &rspec.LinuxCapabilities{Effective: []string{"KILL"}}
		}, `process.capabilities.effective[0]: unknown capability "KILL"`},
		{"bad cap inheritable", func(s *rspec.Spec, _ string) {
			s.Process.Capabilities = &rspec.LinuxCapabilities{Inheritable: []string{"CAP_X"}}
		}, `process.capabilities.inheritable[0]`},
		{"bad cap permitted", func(s *rspec.Spec, _ string) {
			s.Process.Capabilities = &rspec.LinuxCapabilities{Permitted: []string{"CAP_X"}}
		}, `process.capabilities.permitted[0]`},
		{"bad cap ambient", func(s *rspec.Spec, _ string) {
			s.Process.Capabilities = &rspec.LinuxCapabilities{Ambient: []string{"CAP_X"}}
		}, `process.capabilities.ambient[0]`},
		{"oom too low", func(s *rspec.Spec, _ string) { s.Process.OOMScoreAdj = iptr(-1001) }, "process.oomScoreAdj: -1001 is out of range"},
		{"oom too high", func(s *rspec.Spec, _ string) { s.Process.OOMScoreAdj = iptr(1001) }, "process.oomScoreAdj: 1001 is out of range"},
		{"uid -1", func(s *rspec.Spec, _ string) { s.Process.User.UID = 4294967295 }, "config.json: process.user.uid: 4294967295 is out of range 0..2147483647"},
		{"uid 2^31", func(s *rspec.Spec, _ string) { s.Process.User.UID = 1 << 31 }, "process.user.uid: 2147483648 is out of range"},
		{"gid -1", func(s *rspec.Spec, _ string) { s.Process.User.GID = 4294967295 }, "config.json: process.user.gid: 4294967295 is out of range 0..2147483647"},
		{"additional gid -1", func(s *rspec.Spec, _ string) { s.Process.User.AdditionalGids = []uint32{10, 4294967295} },
			"config.json: process.user.additionalGids[1]: 4294967295 is out of range 0..2147483647"},
		{"rootfs symlink", func(s *rspec.Spec, b string) {
			if err := os.Symlink("rootfs", filepath.Join(b, "rootlink")); err != nil {
				panic(err)
			}
			s.Root.Path = "rootlink"
		}, `config.json: root.path: invalid rootfs: "rootlink" is a symlink or goes through one`},
		{"rootfs absolute through symlink", func(s *rspec.Spec, b string) {
			if err := os.Symlink(b, filepath.Join(b, "self")); err != nil {
				panic(err)
			}
			s.Root.Path = filepath.Join(b, "self/rootfs")
		}, `root.path: invalid rootfs:`},
		{"proc symlink", func(s *rspec.Spec, b string) {
			os.Remove(filepath.Join(b, "rootfs/proc"))
			if err := os.Symlink("tmp", filepath.Join(b, "rootfs/proc")); err != nil {
				panic(err)
			}
			s.Mounts = []rspec.Mount{{Destination: "/proc", Type: "proc", Source: "proc"}}
		}, `config.json: mounts[0].destination: /proc is a symlink in the rootfs: filesystem "proc" must be mounted on ordinary directory`},
		{"sys symlink", func(s *rspec.Spec, b string) {
			os.Remove(filepath.Join(b, "rootfs/sys"))
			if err := os.Symlink("/tmp", filepath.Join(b, "rootfs/sys")); err != nil {
				panic(err)
			}
			s.Mounts = []rspec.Mount{{Destination: "/dev", Type: "tmpfs"}, {Destination: "/sys", Type: "sysfs", Source: "sysfs"}}
		}, `config.json: mounts[1].destination: /sys is a symlink in the rootfs: filesystem "sysfs" must be mounted on ordinary directory`},
		{"proc file", func(s *rspec.Spec, b string) {
			os.Remove(filepath.Join(b, "rootfs/proc"))
			os.WriteFile(filepath.Join(b, "rootfs/proc"), nil, 0o644)
			s.Mounts = []rspec.Mount{{Destination: "/proc", Type: "proc", Source: "proc"}}
		}, `mounts[0].destination: /proc is not a directory in the rootfs`},
		{"uid unmapped", func(s *rspec.Spec, _ string) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: rspec.UserNamespace})
			s.Linux.UIDMappings = []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
			s.Linux.GIDMappings = []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
			s.Process.User.UID = 5
		}, "process.user.uid: 5 is not mapped"},
		{"idmap without a mapping", func(s *rspec.Spec, b string) {
			s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/data", Type: "bind", Source: b, Options: []string{"rbind", "idmap"}})
		}, "options: idmap without uidMappings/gidMappings needs a user namespace"},
		{"idmap uid without gid", func(s *rspec.Spec, b string) {
			s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/data", Type: "bind", Source: b, Options: []string{"idmap"},
				UIDMappings: []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}})
		}, "gidMappings: required with uidMappings"},
		{"idmap on tmpfs", func(s *rspec.Spec, _ string) {
			s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/data", Type: "tmpfs", Source: "tmpfs", Options: []string{"idmap"},
				UIDMappings: []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}},
				GIDMappings: []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}})
		}, "options: idmapped mounts are supported for bind mounts only"},
		{"unknown sched policy", func(s *rspec.Spec, _ string) {
			s.Process.Scheduler = &rspec.Scheduler{Policy: "SCHED_FAST"}
		}, `process.scheduler.policy: unknown policy "SCHED_FAST"`},
		{"unknown sched flag", func(s *rspec.Spec, _ string) {
			s.Process.Scheduler = &rspec.Scheduler{Policy: rspec.SchedBatch, Flags: []rspec.LinuxSchedulerFlag{"SCHED_FLAG_X"}}
		}, `process.scheduler.flags[0]: unknown flag "SCHED_FLAG_X"`},
		{"nice out of range", func(s *rspec.Spec, _ string) {
			s.Process.Scheduler = &rspec.Scheduler{Policy: rspec.SchedOther, Nice: 30}
		}, "process.scheduler.nice: 30 is out of range"},
		{"unknown personality", func(s *rspec.Spec, _ string) {
			s.Linux.Personality = &rspec.LinuxPersonality{Domain: "WIN32"}
		}, `linux.personality.domain: unknown domain "WIN32"`},
		{"unknown ns", func(s *rspec.Spec, _ string) {
			s.Linux.Namespaces = []rspec.LinuxNamespace{{Type: "pid"}, {Type: "mount"}, {Type: "foo"}}
		}, `linux.namespaces[2].type: unknown namespace type "foo"`},
		{"dup ns", func(s *rspec.Spec, _ string) {
			s.Linux.Namespaces = []rspec.LinuxNamespace{{Type: "pid"}, {Type: "pid"}}
		}, `linux.namespaces[1].type: duplicate namespace "pid"`},
		{"ns path missing", func(s *rspec.Spec, _ string) {
			s.Linux.Namespaces = []rspec.LinuxNamespace{{Type: "network", Path: "/nonexistent/ns/net"}}
		}, "linux.namespaces[0].path: namespace file \"/nonexistent/ns/net\" does not exist"},
		{"ns path relative", func(s *rspec.Spec, _ string) {
			s.Linux.Namespaces = []rspec.LinuxNamespace{{Type: "network", Path: "proc/self/ns/net"}}
		}, "linux.namespaces[0].path: must be an absolute path"},
		{"ns path not nsfs", func(s *rspec.Spec, b string) {
			s.Linux.Namespaces = []rspec.LinuxNamespace{{Type: "network", Path: filepath.Join(b, "rootfs/bin/sh")}}
		}, "is not a namespace file"},
		{"ns path wrong type", func(s *rspec.Spec, _ string) {
			s.Linux.Namespaces = []rspec.LinuxNamespace{{Type: "ipc", Path: "/proc/self/ns/uts"}}
		}, `linux.namespaces[0].path: "/proc/self/ns/uts" is a uts namespace, not ipc`},
		{"userns without maps", func(s *rspec.Spec, _ string) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: rspec.UserNamespace})
		}, "linux.uidMappings: required when a new user namespace is created"},
		{"userns without gid maps", func(s *rspec.Spec, _ string) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: rspec.UserNamespace})
			s.Linux.UIDMappings = []rspec.LinuxIDMapping{{Size: 1}}
		}, "linux.gidMappings: required"},
		{"maps without userns", func(s *rspec.Spec, _ string) {
			s.Linux.UIDMappings = []rspec.LinuxIDMapping{{Size: 1}}
		}, "linux.uidMappings: id mappings are set but linux.namespaces has no user namespace"},
		{"zero-size map", func(s *rspec.Spec, _ string) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: rspec.UserNamespace})
			s.Linux.UIDMappings = []rspec.LinuxIDMapping{{Size: 1}}
			s.Linux.GIDMappings = []rspec.LinuxIDMapping{{Size: 0}}
		}, "linux.gidMappings[0].size: must be greater than zero"},
		{"relative mount dest", func(s *rspec.Spec, _ string) {
			s.Mounts = []rspec.Mount{{Destination: "/a", Type: "tmpfs"}, {Destination: "/b", Type: "tmpfs"},
				{Destination: "/c", Type: "tmpfs"}, {Destination: "tmp", Type: "tmpfs"}}
		}, `mounts[3].destination: must be an absolute path, got "tmp"`},
		{"mount without type", func(s *rspec.Spec, _ string) {
			s.Mounts = []rspec.Mount{{Destination: "/a", Source: "x"}}
		}, "mounts[0].type: required unless options contain bind or rbind"},
		{"bind source missing", func(s *rspec.Spec, _ string) {
			s.Mounts = []rspec.Mount{{Destination: "/a", Source: "nothere", Options: []string{"rbind"}}}
		}, "mounts[0].source: bind source"},
		{"bind type source missing", func(s *rspec.Spec, _ string) {
			s.Mounts = []rspec.Mount{{Destination: "/a", Type: "bind", Source: "/nonexistent-specs-test"}}
		}, `mounts[0].source: bind source "/nonexistent-specs-test" does not exist`},
		{"hook relative", func(s *rspec.Spec, _ string) {
			s.Hooks = &rspec.Hooks{Poststop: []rspec.Hook{{Path: "true"}}}
		}, `hooks.poststop[0].path: must be an absolute path, got "true"`},
		{"hook missing", func(s *rspec.Spec, _ string) {
			s.Hooks = &rspec.Hooks{CreateRuntime: []rspec.Hook{{Path: "/nonexistent/hook"}}}
		}, "hooks.createRuntime[0].path: does not exist: /nonexistent/hook"},
		{"hook not executable", func(s *rspec.Spec, b string) {
			s.Hooks = &rspec.Hooks{Prestart: []rspec.Hook{{Path: filepath.Join(b, "noexec")}}}
		}, "hooks.prestart[0].path: not executable: "},
		{"hook is dir", func(s *rspec.Spec, b string) {
			s.Hooks = &rspec.Hooks{Poststart: []rspec.Hook{{Path: b}}}
		}, "hooks.poststart[0].path: not a regular file"},
		{"hook zero timeout", func(s *rspec.Spec, b string) {
			s.Hooks = &rspec.Hooks{CreateContainer: []rspec.Hook{{Path: filepath.Join(b, "exec"), Timeout: iptr(0)}}}
		}, "hooks.createContainer[0].timeout: must be greater than zero"},
		{"startContainer resolved in rootfs", func(s *rspec.Spec, b string) {
			// exists on the host but not in the rootfs
			s.Hooks = &rspec.Hooks{StartContainer: []rspec.Hook{{Path: filepath.Join(b, "exec")}}}
		}, "hooks.startContainer[0].path: does not exist"},
		{"hostname without uts", func(s *rspec.Spec, _ string) { s.Hostname = "box" }, "config.json: hostname: cannot be set without a private UTS namespace"},
		{"domainname without uts", func(s *rspec.Spec, _ string) { s.Domainname = "example" }, "config.json: domainname:"},
		{"net sysctl without netns", func(s *rspec.Spec, _ string) {
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
		}, "linux.sysctl.net.ipv4.ip_forward: requires a network namespace"},
		{"net sysctl in own netns", func(s *rspec.Spec, _ string) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: rspec.NetworkNamespace, Path: "/proc/self/ns/net"})
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
		}, "linux.sysctl.net.ipv4.ip_forward: not allowed in the runtime's own network namespace"},
		{"ipc sysctl without ipcns", func(s *rspec.Spec, _ string) {
			s.Linux.Sysctl = map[string]string{"kernel.shmmax": "1"}
		}, "linux.sysctl.kernel.shmmax: requires an ipc namespace"},
		{"mqueue sysctl without ipcns", func(s *rspec.Spec, _ string) {
			s.Linux.Sysctl = map[string]string{"fs.mqueue.msg_max": "1"}
		}, "linux.sysctl.fs.mqueue.msg_max: requires an ipc namespace"},
		{"host sysctl", func(s *rspec.Spec, _ string) {
			s.Linux.Sysctl = map[string]string{"vm.swappiness": "1"}
		}, "linux.sysctl.vm.swappiness: not a namespaced sysctl"},
		{"kernel.hostname sysctl", func(s *rspec.Spec, _ string) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: rspec.UTSNamespace})
			s.Linux.Sysctl = map[string]string{"kernel.hostname": "x"}
		}, "linux.sysctl.kernel.hostname: not allowed: use the hostname field"},
		{"device bad type", func(s *rspec.Spec, _ string) {
			s.Linux.Devices = []rspec.LinuxDevice{{Path: "/dev/x", Type: "z"}}
		}, `linux.devices[0].type: must be c, b, u or p, got "z"`},
		{"device relative", func(s *rspec.Spec, _ string) {
			s.Linux.Devices = []rspec.LinuxDevice{{Path: "/dev/a", Type: "c", Major: 1, Minor: 3}, {Path: "dev/x", Type: "c"}}
		}, `linux.devices[1].path: must be an absolute path, got "dev/x"`},
		{"device dup", func(s *rspec.Spec, _ string) {
			s.Linux.Devices = []rspec.LinuxDevice{{Path: "/dev/a", Type: "c"}, {Path: "/dev/a/", Type: "c"}}
		}, `linux.devices[1].path: duplicate device`},
		{"device rule", func(s *rspec.Spec, _ string) {
			s.Linux.Resources = &rspec.LinuxResources{Devices: []rspec.LinuxDeviceCgroup{{Type: "x", Access: "rwz"}}}
		}, `linux.resources.devices[0].type: must be a, b or c`},
		{"masked relative", func(s *rspec.Spec, _ string) { s.Linux.MaskedPaths = []string{"proc/kcore"} }, "linux.maskedPaths[0]: must be an absolute path"},
		{"readonly relative", func(s *rspec.Spec, _ string) { s.Linux.ReadonlyPaths = []string{"proc/sys"} }, "linux.readonlyPaths[0]: must be an absolute path"},
		{"propagation", func(s *rspec.Spec, _ string) { s.Linux.RootfsPropagation = "sideways" }, `linux.rootfsPropagation: unknown propagation "sideways"`},
		{"time offsets without timens", func(s *rspec.Spec, _ string) {
			s.Linux.TimeOffsets = map[string]rspec.LinuxTimeOffset{"monotonic": {Secs: 1}}
		}, "linux.timeOffsets: require a new time namespace"},
		{"time offsets with a joined timens", func(s *rspec.Spec, _ string) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: rspec.TimeNamespace, Path: "/proc/1/ns/time"})
			s.Linux.TimeOffsets = map[string]rspec.LinuxTimeOffset{"monotonic": {Secs: 1}}
		}, "linux.timeOffsets: require a new time namespace; the time namespace is joined (/proc/1/ns/time)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newBundle(t)
			writeFile(t, filepath.Join(b, "noexec"), "#!/bin/true\n", 0o644)
			writeFile(t, filepath.Join(b, "exec"), "#!/bin/true\n", 0o755)
			s := minimal()
			c.mod(s, b)
			err := Validate(s, b)
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q\ndoes not contain %q", err, c.want)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v carries no FieldError", err)
			}
			// Also through the file: LoadBundle must reject it too.
			writeConfig(t, b, s)
			if _, _, err := LoadBundle(b); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("LoadBundle: %v, want %q", err, c.want)
			}
		})
	}
}

func TestValidateGood(t *testing.T) {
	cases := []struct {
		name string
		mod  func(s *rspec.Spec, bundle string)
	}{
		{"minimal", func(*rspec.Spec, string) {}},
		{"1.0.0", func(s *rspec.Spec, _ string) { s.Version = "1.0.0" }},
		{"1.0.0-rc5", func(s *rspec.Spec, _ string) { s.Version = "1.0.0-rc5" }},
		{"1.0.2-dev", func(s *rspec.Spec, _ string) { s.Version = "1.0.2-dev" }},
		{"1.3.0", func(s *rspec.Spec, _ string) { s.Version = "1.3.0" }},
		{"absolute root", func(s *rspec.Spec, b string) { s.Root.Path = filepath.Join(b, "rootfs") }},
		{"terminal with console size", func(s *rspec.Spec, _ string) {
			s.Process.Terminal = true
			s.Process.ConsoleSize = &rspec.Box{Height: 24, Width: 80}
		}},
		{"oom bounds", func(s *rspec.Spec, _ string) { s.Process.OOMScoreAdj = iptr(-1000) }},
		{"joined namespaces", func(s *rspec.Spec, _ string) {
			s.Linux.Namespaces = []rspec.LinuxNamespace{
				{Type: "network", Path: "/proc/self/ns/net"}, {Type: "ipc", Path: "/proc/self/ns/ipc"},
				{Type: "uts", Path: "/proc/self/ns/uts"}, {Type: "mount"}, {Type: "pid"}, {Type: "cgroup"},
			}
			s.Hostname = "joined"
		}},
		{"relative bind source", func(s *rspec.Spec, _ string) {
			s.Mounts = []rspec.Mount{{Destination: "/mnt", Source: "rootfs/bin", Options: []string{"bind", "ro"}}}
		}},
		{"namespaced sysctls", func(s *rspec.Spec, _ string) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: "network"},
				rspec.LinuxNamespace{Type: "ipc"}, rspec.LinuxNamespace{Type: "uts"})
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1", "kernel.shmmax": "1",
				"fs.mqueue.msg_max": "10", "kernel.domainname": "x"}
		}},
		{"hooks", func(s *rspec.Spec, b string) {
			s.Hooks = &rspec.Hooks{
				CreateRuntime:  []rspec.Hook{{Path: filepath.Join(b, "exec"), Timeout: iptr(5)}},
				StartContainer: []rspec.Hook{{Path: "/bin/sh"}},
			}
		}},
		{"timens", func(s *rspec.Spec, _ string) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: "time"})
			s.Linux.TimeOffsets = map[string]rspec.LinuxTimeOffset{"monotonic": {Secs: 1}, "boottime": {Secs: 2}}
		}},
		{"devices", func(s *rspec.Spec, _ string) {
			s.Linux.Devices = []rspec.LinuxDevice{{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229}, {Path: "/dev/fifo", Type: "p"}}
		}},
		{"largest ids", func(s *rspec.Spec, _ string) {
			s.Process.User = rspec.User{UID: 2147483647, GID: 2147483647, AdditionalGids: []uint32{0, 2147483647}}
		}},
		{"proc and sysfs on directories", func(s *rspec.Spec, _ string) {
			s.Mounts = []rspec.Mount{{Destination: "/proc", Type: "proc"}, {Destination: "/sys", Type: "sysfs"}, {Destination: "/new/proc", Type: "proc"}}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newBundle(t)
			writeFile(t, filepath.Join(b, "exec"), "#!/bin/true\n", 0o755)
			s := minimal()
			c.mod(s, b)
			if err := Validate(s, b); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestValidateJoinsAll(t *testing.T) {
	b := newBundle(t)
	s := minimal()
	s.Version = ""
	s.Process.Cwd = "x"
	s.Mounts = []rspec.Mount{{Destination: "y", Type: "tmpfs"}}
	err := Validate(s, b)
	for _, f := range []string{"ociVersion", "process.cwd", "mounts[0].destination"} {
		if err == nil || !strings.Contains(err.Error(), "config.json: "+f+":") {
			t.Errorf("missing %s in %v", f, err)
		}
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 3 {
		t.Errorf("got %d problems, want 3: %v", n, err)
	}
}

func TestCheckNamespacePath(t *testing.T) {
	for typ, file := range map[rspec.LinuxNamespaceType]string{
		"pid": "pid", "network": "net", "mount": "mnt", "ipc": "ipc", "uts": "uts",
		"user": "user", "cgroup": "cgroup", "time": "time",
	} {
		p := "/proc/self/ns/" + file
		if _, err := os.Stat(p); err != nil {
			continue
		}
		if err := CheckNamespacePath(p, typ); err != nil {
			t.Errorf("%s: %v", typ, err)
		}
	}
	if err := CheckNamespacePath("/proc/self/ns/mnt", "pid"); err == nil {
		t.Error("mnt accepted as pid")
	}
	if err := CheckNamespacePath("/proc/self/status", "pid"); err == nil || !strings.Contains(err.Error(), "not a namespace file") {
		t.Errorf("procfs file: %v", err)
	}
}

func TestValidateProcess(t *testing.T) {
	if err := ValidateProcess(&rspec.Process{Args: []string{"ls"}, Cwd: "/"}, Default(), "process.json"); err != nil {
		t.Fatal(err)
	}
	err := ValidateProcess(&rspec.Process{Cwd: "/"}, nil, "process.json")
	if err == nil || err.Error() != "process.json: process.args: must not be empty" {
		t.Fatalf("got %v", err)
	}
	s := Default()
	ToRootless(s, 1000, 1000)
	err = ValidateProcess(&rspec.Process{Args: []string{"ls"}, Cwd: "/", User: rspec.User{UID: 7}}, s, "process.json")
	if err == nil || !strings.Contains(err.Error(), "process.user.uid: 7 is not mapped") {
		t.Fatalf("got %v", err)
	}
}

// A bundle reached through a symlink is fine (runc takes the real
// directory too); only root.path itself must not be or go through one.
func TestValidateBundleThroughSymlink(t *testing.T) {
	b := newBundle(t)
	link := filepath.Join(t.TempDir(), "bundle")
	if err := os.Symlink(b, link); err != nil {
		t.Fatal(err)
	}
	if err := Validate(minimal(), link); err != nil {
		t.Fatal(err)
	}
}

// process.json (exec -p) and exec -u go through ValidateProcess: -1 as
// an id would leave the process with init's root identity.
func TestValidateProcessIDs(t *testing.T) {
	for _, c := range []struct {
		u    rspec.User
		want string
	}{
		{rspec.User{UID: 4294967295}, "process.json: process.user.uid: 4294967295 is out of range 0..2147483647"},
		{rspec.User{GID: 4294967295}, "process.json: process.user.gid: 4294967295 is out of range 0..2147483647"},
		{rspec.User{AdditionalGids: []uint32{4294967295}}, "process.json: process.user.additionalGids[0]: 4294967295 is out of range"},
	} {
		err := ValidateProcess(&rspec.Process{Args: []string{"ls"}, Cwd: "/", User: c.u}, Default(), "process.json")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want %q", c.u, err, c.want)
		}
	}
}
