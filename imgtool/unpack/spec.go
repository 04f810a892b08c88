package unpack

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/sys/user"
	"github.com/myrun-org/myrun/imgtool/layer"
	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/myrun-org/myrun/specs"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultCaps are the capabilities an image's process gets, the set
// docker, podman and buildah use for containers run from images (runc's
// example spec has too few for ordinary images: no chown, no setuid).
var DefaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// Annotation keys of the image-spec "conversion to runtime-spec" rules.
const (
	AnnotationVolumes      = "org.opencontainers.image.volumes"
	AnnotationExposedPorts = "org.opencontainers.image.exposedPorts"
	AnnotationStopSignal   = "org.opencontainers.image.stopSignal"
)

// Spec converts an image config into a runtime spec for rootfs: args =
// entrypoint + cmd, env, user resolved against the rootfs's /etc/passwd
// and /etc/group, cwd, stop signal and ports and volumes as annotations.
// Volumes are not mounted (like umoci): the image content at those paths
// stays visible; VOLUME paths are listed in AnnotationVolumes.
func Spec(img *store.Loaded, rootfs string, o Options) (*rspec.Spec, error) {
	c := img.Config.Config
	args := append(slices.Clone(c.Entrypoint), c.Cmd...)
	if len(args) == 0 {
		args = []string{"sh"}
	}
	s, err := ProcessSpec(rootfs, Process{Args: args, User: c.User, Cwd: c.WorkingDir})
	if err != nil {
		return nil, err
	}
	s.Process.Env = MergeEnv(s.Process.Env[:1], c.Env)
	s.Hostname = "myimg"
	s.Annotations = map[string]string{}
	for k, v := range c.Labels {
		s.Annotations[k] = v
	}
	if img.Config.OS != "" {
		s.Annotations["org.opencontainers.image.os"] = img.Config.OS
	}
	if img.Config.Architecture != "" {
		s.Annotations["org.opencontainers.image.architecture"] = img.Config.Architecture
	}
	if img.Config.Author != "" {
		s.Annotations["org.opencontainers.image.author"] = img.Config.Author
	}
	if img.Config.Created != nil {
		s.Annotations[ocispec.AnnotationCreated] = img.Config.Created.UTC().Format("2006-01-02T15:04:05Z")
	}
	if c.StopSignal != "" {
		s.Annotations[AnnotationStopSignal] = c.StopSignal
	}
	if len(c.ExposedPorts) > 0 {
		s.Annotations[AnnotationExposedPorts] = strings.Join(sortedKeys(c.ExposedPorts), ",")
	}
	if len(c.Volumes) > 0 {
		s.Annotations[AnnotationVolumes] = strings.Join(sortedKeys(c.Volumes), ",")
	}
	if o.Rootless || os.Geteuid() != 0 {
		specs.ToRootless(s, uint32(os.Geteuid()), uint32(os.Getegid()))
		if len(o.UIDMap) > 0 {
			s.Linux.UIDMappings = toSpecMap(o.UIDMap)
			s.Linux.GIDMappings = toSpecMap(o.GIDMap)
		}
	}
	return s, nil
}

// Process is what ProcessSpec puts in the spec's process.
type Process struct {
	Args []string
	Env  []string // replaces the default environment when not nil
	User string   // an image USER, resolved in the rootfs
	Cwd  string   // "" keeps "/"
	Caps []string // nil: DefaultCaps
}

// ProcessSpec is the spec every process myimg starts from an image's
// rootfs begins with (`myimg run` through Spec, build's RUN directly):
// the default spec, no terminal, a writable root, p's args, env and cwd,
// its user resolved against rootfs's passwd and group files, and the
// image capability set.
func ProcessSpec(rootfs string, p Process) (*rspec.Spec, error) {
	s := specs.Default()
	s.Process.Terminal = false
	s.Root.Readonly = false
	s.Process.Args = p.Args
	if p.Env != nil {
		s.Process.Env = p.Env
	}
	if p.Cwd != "" {
		s.Process.Cwd = p.Cwd
	}
	u, err := ResolveUser(rootfs, p.User)
	if err != nil {
		return nil, err
	}
	s.Process.User = u
	caps := p.Caps
	if caps == nil {
		caps = DefaultCaps
	}
	s.Process.Capabilities = &rspec.LinuxCapabilities{
		Bounding: slices.Clone(caps), Effective: slices.Clone(caps), Permitted: slices.Clone(caps),
	}
	return s, nil
}

func toSpecMap(m []layer.IDMap) []rspec.LinuxIDMapping {
	var out []rspec.LinuxIDMapping
	for _, e := range m {
		out = append(out, rspec.LinuxIDMapping{ContainerID: e.ContainerID, HostID: e.HostID, Size: e.Size})
	}
	return out
}

func sortedKeys(m map[string]struct{}) []string {
	var k []string
	for x := range m {
		k = append(k, x)
	}
	sort.Strings(k)
	return k
}

// MergeEnv overlays image env on base (same keys replaced, order kept).
func MergeEnv(base, over []string) []string {
	out := slices.Clone(base)
	for _, e := range over {
		k, _, _ := strings.Cut(e, "=")
		replaced := false
		for i, b := range out {
			if bk, _, _ := strings.Cut(b, "="); bk == k {
				out[i], replaced = e, true
				break
			}
		}
		if !replaced {
			out = append(out, e)
		}
	}
	return out
}

// ResolveUser turns an image USER ("name", "uid", "name:group",
// "uid:gid") into numeric ids using the rootfs's passwd and group files,
// read through a safe join.
func ResolveUser(rootfs, spec string) (rspec.User, error) {
	passwd, _ := securejoin.SecureJoin(rootfs, "/etc/passwd")
	group, _ := securejoin.SecureJoin(rootfs, "/etc/group")
	eu, err := user.GetExecUserPath(spec, &user.ExecUser{Uid: 0, Gid: 0, Home: "/"}, passwd, group)
	if err != nil {
		return rspec.User{}, fmt.Errorf("image user %q: %w", spec, err)
	}
	u := rspec.User{UID: uint32(eu.Uid), GID: uint32(eu.Gid)}
	for _, g := range eu.Sgids {
		if g != eu.Gid {
			u.AdditionalGids = append(u.AdditionalGids, uint32(g))
		}
	}
	return u, nil
}
