package container

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/myrun-org/myrun/imgtool/network"
	"github.com/myrun-org/myrun/imgtool/unpack"
	"github.com/myrun-org/myrun/specs/units"
)

// Options are the flags of `myimg run`.
type Options struct {
	Image      string
	Args       []string // replaces the image's CMD when set
	Name       string
	Detach     bool
	AutoRemove bool
	Env        []string
	Workdir    string
	User       string
	TTY        bool
	Stdin      bool
	Volumes    []string
	Net        string
	Ports      []string
	DNS        []string
	Hostname   string
	Memory     string
	CPUs       string
	PidsLimit  int64
	Runtime    string
	Bridge     string
	Subnet     string
	Restart    string // --restart policy (restart.go)
	Health     HealthFlags
	Labels     []string // --label K=V
	// Storage lays the rootfs out (the global --storage-driver; rootless:
	// a copy, a forced mount refused).
	Storage unpack.Storage
}

// Volume is a parsed -v HOST:CTR[:OPTS] or NAME:CTR[:OPTS] (Name set;
// Source is filled in when the container is made). OPTS is a comma list
// of ro or rw and copy or nocopy, as podman's.
type Volume struct {
	Source, Dest string
	ReadOnly     bool
	Name         string
	// NoCopy: this container does not fill an unpopulated named volume
	// from the image (it stays unpopulated for the next container, as
	// podman's nocopy). Host paths are never filled either way.
	NoCopy bool
}

// parseVolumeOpts applies the comma list OPTS of -v value v.
func parseVolumeOpts(v, opts string, vol *Volume) error {
	var rw, cp string
	for _, o := range strings.Split(opts, ",") {
		prev, pair := &rw, "ro or rw"
		switch o {
		case "ro", "rw":
			vol.ReadOnly = o == "ro"
		case "copy", "nocopy":
			prev, pair = &cp, "copy or nocopy"
			vol.NoCopy = o == "nocopy"
		default:
			return fmt.Errorf("-v %q: option %q: want ro or rw, copy or nocopy", v, o)
		}
		// Twice, even the same, is refused as podman refuses it.
		if *prev != "" {
			return fmt.Errorf("-v %q: options %q and %q: give one of %s, once", v, *prev, o, pair)
		}
		*prev = o
	}
	return nil
}

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// ValidName checks --name (docker's rule).
func ValidName(n string) error {
	if !nameRE.MatchString(n) || len(n) > 128 {
		return fmt.Errorf("--name %q: must match [a-zA-Z0-9][a-zA-Z0-9_.-]* (at most 128 characters)", n)
	}
	if isID(n) {
		return fmt.Errorf("--name %q: a 64-character hex name could be mistaken for an ID", n)
	}
	return nil
}

// ParseVolume parses and checks a -v value; the host source must exist.
func ParseVolume(v string) (Volume, error) {
	p := strings.Split(v, ":")
	var vol Volume
	switch len(p) {
	case 2:
	case 3:
		if err := parseVolumeOpts(v, p[2], &vol); err != nil {
			return vol, err
		}
	default:
		return vol, fmt.Errorf("-v %q: want HOST-PATH:CONTAINER-PATH[:ro|rw][,nocopy]", v)
	}
	src, dst := p[0], p[1]
	if !filepath.IsAbs(dst) {
		return vol, fmt.Errorf("-v %q: container path %q must be absolute", v, dst)
	}
	if src != "" && !filepath.IsAbs(src) && !strings.HasPrefix(src, ".") {
		if err := ValidVolumeName(src); err != nil {
			return vol, fmt.Errorf("-v %q: source is neither an absolute or ./relative host path nor a volume: %w", v, err)
		}
		vol.Name, vol.Dest = src, filepath.Clean(dst)
		return vol, nil
	}
	if src == "" {
		return vol, fmt.Errorf("-v %q: source %q must be an absolute or ./relative host path or a volume name", v, src)
	}
	abs, err := filepath.Abs(src)
	if err != nil {
		return vol, err
	}
	if _, err := os.Stat(abs); err != nil {
		return vol, fmt.Errorf("-v %q: source %s does not exist", v, abs)
	}
	vol.Source, vol.Dest = abs, filepath.Clean(dst)
	return vol, nil
}

// ParseMemory parses --memory: a size with an optional unit (512m, 1g).
func ParseMemory(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := units.ParseBytes(s)
	if err != nil || n == 0 || n > 1<<62 {
		return 0, fmt.Errorf("--memory %q: not a size (e.g. 512m, 1g)", s)
	}
	if n < 6<<20 {
		return 0, fmt.Errorf("--memory %q: minimum is 6m", s)
	}
	return n, nil
}

// ParseCPUs parses --cpus into a CFS quota for a 100ms period.
func ParseCPUs(s string) (quota int64, period uint64, err error) {
	if s == "" {
		return 0, 0, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 || f > 1024 {
		return 0, 0, fmt.Errorf("--cpus %q: want a positive number of CPUs (e.g. 0.5)", s)
	}
	period = 100000
	quota = int64(f * float64(period))
	if quota < 1000 {
		return 0, 0, fmt.Errorf("--cpus %q: too small (minimum 0.01)", s)
	}
	return quota, period, nil
}

// ParseEnv expands -e values: K=V as is, a bare K takes the host's value
// (and is dropped when the host has none, as docker does).
func ParseEnv(vals []string) ([]string, error) {
	var out []string
	for _, e := range vals {
		k, _, hasEq := strings.Cut(e, "=")
		if k == "" || strings.ContainsAny(k, " \t\n") {
			return nil, fmt.Errorf("-e %q: invalid variable name", e)
		}
		if hasEq {
			out = append(out, e)
		} else if v, ok := os.LookupEnv(k); ok {
			out = append(out, k+"="+v)
		}
	}
	return out, nil
}

// parsed are Options after validation.
type parsed struct {
	volumes []Volume
	ports   []network.PortMapping
	env     []string
	memory  int64
	quota   int64
	period  uint64
}

// validate checks every flag without touching anything; errors name the
// flag.
func (o *Options) validate() (*parsed, error) {
	p := &parsed{}
	if os.Geteuid() != 0 {
		if err := o.Storage.CheckRootless(); err != nil {
			return nil, err
		}
	}
	if o.Net == "" {
		o.Net = network.ModeBridge
		if os.Geteuid() != 0 {
			// slirp4netns as podman 4.3; pasta when only it is installed.
			o.Net = network.ModeSlirp
			if !network.HaveSlirp() && network.HavePasta() {
				o.Net = network.ModePasta
			}
		}
	}
	if err := network.ValidMode(o.Net); err != nil {
		return nil, err
	}
	if o.Net == network.ModeBridge && os.Geteuid() != 0 {
		return nil, fmt.Errorf("--net bridge needs root (it creates a bridge, veths and iptables rules); use --net slirp4netns as an unprivileged user")
	}
	if o.Name != "" {
		if err := ValidName(o.Name); err != nil {
			return nil, err
		}
	}
	if o.Hostname != "" && (len(o.Hostname) > 64 || strings.ContainsAny(o.Hostname, " /\t\n")) {
		return nil, fmt.Errorf("--hostname %q: not a valid host name", o.Hostname)
	}
	if o.Net == network.ModeHost && len(o.Ports) > 0 {
		return nil, fmt.Errorf("-p with --net host: the container already uses the host's ports")
	}
	if o.Net == network.ModeNone && len(o.Ports) > 0 {
		return nil, fmt.Errorf("-p with --net none: a container without a network cannot publish ports")
	}
	if err := network.ValidDNS(o.DNS); err != nil {
		return nil, err
	}
	if o.Net == network.ModeBridge {
		if err := network.ValidBridgeName(o.Bridge); err != nil {
			return nil, fmt.Errorf("--bridge: %w", err)
		}
		if _, err := network.ParseSubnet(o.Subnet); err != nil {
			return nil, fmt.Errorf("--subnet: %w", err)
		}
	}
	if err := o.parseValues(p); err != nil {
		return nil, err
	}
	if o.PidsLimit < 0 {
		return nil, fmt.Errorf("--pids-limit %d: must not be negative", o.PidsLimit)
	}
	if o.Workdir != "" && !filepath.IsAbs(o.Workdir) {
		return nil, fmt.Errorf("-w %q: must be an absolute path", o.Workdir)
	}
	if o.Runtime == "" {
		return nil, fmt.Errorf("no runtime found: install myrun beside myimg, in PATH, or set --runtime / MYIMG_RUNTIME")
	}
	return p, nil
}

// parseValues fills p with the flags that carry values to parse: volumes,
// ports (none given twice), environment, memory and CPUs.
func (o *Options) parseValues(p *parsed) error {
	var err error
	for _, v := range o.Volumes {
		vol, err := ParseVolume(v)
		if err != nil {
			return err
		}
		p.volumes = append(p.volumes, vol)
	}
	for _, s := range o.Ports {
		pm, err := network.ParsePort(s)
		if err != nil {
			return err
		}
		for _, q := range p.ports {
			if network.Conflicts(q, pm) {
				return fmt.Errorf("-p %s: host port given twice", s)
			}
		}
		p.ports = append(p.ports, pm)
	}
	if p.env, err = ParseEnv(o.Env); err != nil {
		return err
	}
	if p.memory, err = ParseMemory(o.Memory); err != nil {
		return err
	}
	if p.quota, p.period, err = ParseCPUs(o.CPUs); err != nil {
		return err
	}
	return nil
}
