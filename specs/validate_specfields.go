package specs

import (
	"maps"
	"os"
	"slices"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/internal/numa"
)

// Validation of linux.memoryPolicy, linux.intelRdt, linux.netDevices and
// process.execCPUAffinity: the checks that need no running container.
// Host facts (NUMA nodes, resctrl) are checked here too, so that create
// fails before anything exists.

// NodesFile lists the host's possible NUMA nodes; a variable for tests.
var NodesFile = "/sys/devices/system/node/possible"

// ResctrlRoot is where resctrl must be mounted; a variable for tests.
var ResctrlRoot = "/sys/fs/resctrl"

// hostNodes returns how many NUMA node numbers the host has (the highest
// possible node + 1); 1 when the kernel has no NUMA support.
func hostNodes() int {
	raw, err := os.ReadFile(NodesFile)
	if err != nil {
		return 1
	}
	nodes, err := numa.ParseList(strings.TrimSpace(string(raw)), numa.MaxNodes)
	if err != nil || len(nodes) == 0 {
		return 1
	}
	return slices.Max(nodes) + 1
}

// checkSpecFields checks the fields above and refuses those we decode but
// cannot apply on Linux, so that none is dropped without a word (see
// TestEveryFieldHandledOrRefused).
func checkSpecFields(p *problems, s *rspec.Spec) {
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"windows", s.Windows != nil}, {"solaris", s.Solaris != nil}, {"vm", s.VM != nil},
		{"zos", s.ZOS != nil}, {"freebsd", s.FreeBSD != nil},
	} {
		if f.set {
			p.add(f.name, "not supported: this runtime runs Linux containers only")
		}
	}
	if pr := s.Process; pr != nil {
		if pr.CommandLine != "" {
			p.add("process.commandLine", "Windows only: use process.args")
		}
		if pr.User.Username != "" {
			p.add("process.user.username", "Windows only: use process.user.uid and gid")
		}
	}
	l := s.Linux
	if l == nil {
		return
	}
	if l.Personality != nil && len(l.Personality.Flags) > 0 {
		p.add("linux.personality.flags", "not supported (the runtime spec defines no flag values)")
	}
	if r := l.Resources; r != nil && r.Memory != nil && r.Memory.UseHierarchy != nil && !*r.Memory.UseHierarchy {
		p.add("linux.resources.memory.useHierarchy", "false is not supported: the kernel always accounts hierarchically")
	}
	checkMemoryPolicy(p, l.MemoryPolicy)
	checkIntelRdt(p, l.IntelRdt)
	checkNetDevices(p, l)
}

func checkMemoryPolicy(p *problems, mp *rspec.LinuxMemoryPolicy) {
	if mp == nil {
		return
	}
	const f = "linux.memoryPolicy"
	mode, ok := numa.Modes[mp.Mode]
	if !ok {
		p.add(f+".mode", "unknown mode %q", mp.Mode)
	}
	var static, relative bool
	for i, fl := range mp.Flags {
		if _, ok := numa.Flags[fl]; !ok {
			p.add(idx(f+".flags", i), "unknown flag %q", fl)
		}
		static = static || fl == rspec.MpolFStaticNodes
		relative = relative || fl == rspec.MpolFRelativeNodes
	}
	if static && relative {
		p.add(f+".flags", "MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other")
	}
	switch {
	case !ok:
	case mode == 0 || mode == 4: // MPOL_DEFAULT, MPOL_LOCAL
		if mp.Nodes != "" {
			p.add(f+".nodes", "must be empty with %s", mp.Mode)
		}
		if len(mp.Flags) > 0 {
			p.add(f+".flags", "must be empty with %s", mp.Mode)
		}
		return
	case mp.Nodes == "" && mode != 1: // only MPOL_PREFERRED may omit them (local allocation)
		p.add(f+".nodes", "required with %s", mp.Mode)
		return
	}
	if mp.Nodes == "" {
		return
	}
	// Relative nodes are folded onto the allowed ones by the kernel, so
	// only the static bound applies to them.
	limit := numa.MaxNodes
	if !relative {
		limit = hostNodes()
	}
	if _, err := numa.ParseList(mp.Nodes, limit); err != nil {
		if !relative {
			p.add(f+".nodes", "%v: this host has NUMA nodes 0-%d", err, limit-1)
		} else {
			p.add(f+".nodes", "%v", err)
		}
	}
}

func checkIntelRdt(p *problems, rdt *rspec.LinuxIntelRdt) {
	if rdt == nil {
		return
	}
	const f = "linux.intelRdt"
	checkIntelRdtSchemas(p, rdt)
	// "info", "mon_groups" and "mon_data" are resctrl's own directories.
	if c := rdt.ClosID; c != "" && c != "/" && (c == "." || c == ".." || c == "info" || strings.ContainsAny(c, "/\n") || strings.HasPrefix(c, "mon_")) {
		p.add(f+".closID", "%q is not a resctrl group name", c)
	}
	for i, s := range rdt.Schemata {
		if strings.Contains(s, "\n") {
			p.add(idx(f+".schemata", i), "must not hold a newline")
		}
	}
	// The runtime namespace must have resctrl mounted (config-linux.md).
	if !ResctrlMounted() {
		p.add(f, "resctrl is not mounted at %s (Intel RDT / AMD QoS not available on this host)", ResctrlRoot)
	}
}

// ValidateIntelRdtSchemas checks an L3 cache and a memory bandwidth
// schema (also those of `update --l3-cache-schema/--mem-bw-schema`).
func ValidateIntelRdtSchemas(rdt *rspec.LinuxIntelRdt) error {
	var p problems
	checkIntelRdtSchemas(&p, rdt)
	return p.err()
}

func checkIntelRdtSchemas(p *problems, rdt *rspec.LinuxIntelRdt) {
	const f = "linux.intelRdt"
	if s := rdt.L3CacheSchema; s != "" && (!strings.HasPrefix(s, "L3") || strings.Contains(s, "\n")) {
		p.add(f+".l3CacheSchema", "must start with \"L3\" and hold no newline, got %q", s)
	}
	if s := rdt.MemBwSchema; s != "" && (!strings.HasPrefix(s, "MB:") || strings.Contains(s, "\n")) {
		p.add(f+".memBwSchema", "must start with \"MB:\" and hold no newline, got %q", s)
	}
}

// resctrlMagic is RDTGROUP_SUPER_MAGIC.
const resctrlMagic = 0x7655821

// ResctrlMounted reports whether ResctrlRoot is a resctrl mount.
func ResctrlMounted() bool {
	var st unix.Statfs_t
	return unix.Statfs(ResctrlRoot, &st) == nil && st.Type == resctrlMagic
}

func checkNetDevices(p *problems, l *rspec.Linux) {
	if len(l.NetDevices) == 0 {
		return
	}
	if !hasNewNamespace(l, rspec.NetworkNamespace) {
		p.add("linux.netDevices", "requires a new network namespace (a network entry without a path in linux.namespaces)")
	}
	names := map[string]string{}
	for _, host := range slices.Sorted(maps.Keys(l.NetDevices)) {
		f := "linux.netDevices." + host
		if !validIfName(host) {
			p.add(f, "%q is not a valid interface name", host)
		}
		name := l.NetDevices[host].Name
		if name == "" {
			name = host
		}
		if !validIfName(name) && !(strings.Count(name, "%d") == 1 && validIfName(strings.Replace(name, "%d", "0", 1))) {
			p.add(f+".name", "%q is not a valid interface name", name)
		}
		if other, dup := names[name]; dup && !strings.Contains(name, "%d") {
			p.add(f+".name", "%q is also the name of linux.netDevices.%s", name, other)
		}
		if name == "lo" {
			p.add(f+".name", "\"lo\" exists in every network namespace")
		}
		names[name] = host
	}
}

// validIfName is the kernel's dev_valid_name.
func validIfName(s string) bool {
	if s == "" || len(s) >= 16 || s == "." || s == ".." {
		return false
	}
	return !strings.ContainsAny(s, "/: \t\n\r\v\f")
}

func checkExecCPUAffinity(p *problems, a *rspec.CPUAffinity) {
	if a == nil {
		return
	}
	if a.Initial != "" {
		if _, err := numa.ParseList(a.Initial, 1024); err != nil {
			p.add("process.execCPUAffinity.initial", "%v", err)
		}
	}
	if a.Final != "" {
		if _, err := numa.ParseList(a.Final, 1024); err != nil {
			p.add("process.execCPUAffinity.final", "%v", err)
		}
	}
}
