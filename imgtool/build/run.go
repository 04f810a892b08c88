package build

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/sys/capability"
	"github.com/myrun-org/myrun/imgtool/overlay"
	"github.com/myrun-org/myrun/imgtool/runner"
	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/myrun-org/myrun/imgtool/unpack"
	"github.com/myrun-org/myrun/internal/rlimits"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

var heredocOnly = regexp.MustCompile(`^<<-?\s*["']?([A-Za-z0-9_]+)["']?\s*$`)

// runArgs builds the process args of a RUN, handling heredocs: a RUN that
// is only a heredoc runs its body as a script (with its own #! when it has
// one); heredocs used as redirections are handed to the shell verbatim.
func (r *stageRun) runArgs(c *instructions.RunCommand) (args []string, script string) {
	if !c.PrependShell {
		return slices.Clone(c.CmdLine), ""
	}
	cmdline := strings.Join(c.CmdLine, " ")
	if len(c.Files) == 0 {
		return append(slices.Clone(r.shell()), cmdline), ""
	}
	if len(c.Files) == 1 && heredocOnly.MatchString(cmdline) {
		data := c.Files[0].Data
		if c.Files[0].Chomp {
			data = parser.ChompHeredocContent(data)
		}
		if strings.HasPrefix(data, "#!") {
			return []string{scriptPath}, data
		}
		return append(slices.Clone(r.shell()), data), ""
	}
	var sb strings.Builder
	sb.WriteString(cmdline + "\n")
	for _, f := range c.Files {
		sb.WriteString(f.Data)
		if !strings.HasSuffix(f.Data, "\n") {
			sb.WriteString("\n")
		}
		sb.WriteString(f.Name + "\n")
	}
	return append(slices.Clone(r.shell()), sb.String()), ""
}

// scriptPath is where a #! heredoc is bind-mounted (under /dev, a tmpfs,
// so nothing lands in the layer).
const scriptPath = "/dev/.myimg-run-script"

// runOpts are a RUN's own flags, resolved.
type runOpts struct {
	network  string // "private" (loopback only) or "host"
	insecure bool   // --security=insecure: every capability, nothing masked
	mounts   []rspec.Mount
	env      []string // from secret and ssh mounts, kept out of the key
}

// runFlagOpts resolves RUN --network and --security against the build's
// options.
func (r *stageRun) runFlagOpts(c *instructions.RunCommand) (runOpts, error) {
	o := runOpts{network: "private"}
	switch n := instructions.GetNetwork(c); n {
	case instructions.NetworkDefault:
		if r.b.o.Network == "host" {
			o.network = "host"
		}
	case instructions.NetworkNone:
	case instructions.NetworkHost:
		o.network = "host"
	default:
		return o, fmt.Errorf("--network=%s: want default, none or host", n)
	}
	switch sec := instructions.GetSecurity(c); sec {
	case instructions.SecuritySandbox:
	case instructions.SecurityInsecure:
		if !r.b.o.AllowInsecure {
			return o, fmt.Errorf("--security=insecure is refused unless the build is started with --allow security.insecure")
		}
		o.insecure = true
	default:
		return o, fmt.Errorf("--security=%s: want sandbox or insecure", sec)
	}
	return o, nil
}

func (r *stageRun) run(st step, c *instructions.RunCommand) error {
	if err := canRun(r.img.Platform); err != nil {
		return err
	}
	ro, err := r.runFlagOpts(c)
	if err != nil {
		return err
	}
	plans, mountKey, err := r.planMounts(c)
	if err != nil {
		return err
	}
	args, script := r.runArgs(c)
	env := r.runEnv()
	cfg := r.img.Config
	createdBy := strings.Join(args, " ")
	if script != "" {
		// st.text is the instruction line ("RUN <<EOF"): the body follows.
		createdBy = st.text + "\n" + script
	}
	keyJSON, _ := json.Marshal(struct {
		Args     []string
		Script   string
		Env      []string
		User     string
		Dir      string
		Network  string
		Insecure bool                `json:",omitempty"`
		Mounts   []string            `json:",omitempty"`
		Caps     []string            `json:",omitempty"`
		Ulimits  []rspec.POSIXRlimit `json:",omitempty"`
	}{args, script, env, cfg.User, cfg.WorkingDir, ro.network, ro.insecure, mountKey, r.b.o.Caps, r.b.o.Ulimits})
	return r.fsStep(createdBy, "RUN "+string(keyJSON), "", func(w *workspace) error {
		r.b.res.RunSteps++
		mounts, menv, cleanup, err := r.b.setupMounts(w, plans)
		if err != nil {
			return err
		}
		defer cleanup()
		ro.mounts, ro.env = mounts, menv
		return r.b.runContainer(w, args, script, r.withProxies(env), cfg.User, cfg.WorkingDir, ro)
	})
}

// adjustRunSpec makes the RUN container's spec from the image's process
// spec: setuid tools work, --ulimit, our rootfs, hostname and cgroup, and
// RUN --security=insecure (all capabilities, no masked paths, sysfs rw) or
// --network=host (the host's network namespace, resolv.conf and hosts).
func (b *builder) adjustRunSpec(s *rspec.Spec, rootfs, id string, ro runOpts) {
	s.Process.NoNewPrivileges = false // setuid tools (su, sudo) must work in builds
	for _, l := range b.o.Ulimits {
		s.Process.Rlimits = slices.DeleteFunc(s.Process.Rlimits, func(x rspec.POSIXRlimit) bool { return x.Type == l.Type })
		s.Process.Rlimits = append(s.Process.Rlimits, l)
	}
	s.Root.Path = rootfs
	s.Hostname = "myimg-build"
	s.Linux.CgroupsPath = ""
	if b.o.CgroupParent != "" {
		s.Linux.CgroupsPath = path.Join(b.o.CgroupParent, id)
	}
	if ro.insecure {
		all := allCaps()
		s.Process.Capabilities = &rspec.LinuxCapabilities{Bounding: all, Effective: slices.Clone(all), Permitted: slices.Clone(all)}
		s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
		for i, m := range s.Mounts {
			if m.Type == "sysfs" {
				s.Mounts[i].Options = slices.DeleteFunc(slices.Clone(m.Options), func(o string) bool { return o == "ro" })
			}
		}
	}
	if ro.network == "host" {
		s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(n rspec.LinuxNamespace) bool {
			return n.Type == rspec.NetworkNamespace
		})
		for _, f := range []string{"/etc/resolv.conf", "/etc/hosts"} {
			if _, err := os.Stat(f); err == nil {
				s.Mounts = append(s.Mounts, rspec.Mount{Destination: f, Type: "bind", Source: f, Options: []string{"rbind", "ro"}})
			}
		}
	}
}

// runContainer runs one process in a container of our runtime, with the
// workspace's merged dir as rootfs, and waits for it.
func (b *builder) runContainer(w *workspace, args []string, script string, env []string, usr, cwd string, ro runOpts) error {
	if b.o.Runtime == "" {
		return fmt.Errorf("RUN needs a runtime: none found (set --runtime or MYIMG_RUNTIME)")
	}
	rootfs := w.merged
	s, err := unpack.ProcessSpec(rootfs, unpack.Process{
		Args: args, Env: append(slices.Clone(env), ro.env...), User: usr, Cwd: cwd, Caps: b.o.Caps,
	})
	if err != nil {
		return err
	}
	// WORKDIR is created on first use, as buildah does.
	if p, err := securejoin.SecureJoin(rootfs, s.Process.Cwd); err == nil {
		if err := os.MkdirAll(p, 0o755); err != nil {
			return fmt.Errorf("WORKDIR %s: %w", s.Process.Cwd, err)
		}
	}
	id := fmt.Sprintf("myimg-%d-%d", os.Getpid(), b.seq)
	b.adjustRunSpec(s, rootfs, id, ro)
	bundle := filepath.Join(w.dir, "bundle")
	if err := os.MkdirAll(bundle, 0o700); err != nil {
		return err
	}
	if script != "" {
		sp := filepath.Join(w.dir, "script")
		if err := os.WriteFile(sp, []byte(script), 0o755); err != nil {
			return err
		}
		s.Mounts = append(s.Mounts, rspec.Mount{Destination: scriptPath, Type: "bind", Source: sp, Options: []string{"bind", "ro"}})
	}
	s.Mounts = append(s.Mounts, ro.mounts...)
	// Mount points the runtime has to create would otherwise end up in
	// the layer: note the missing ones and remove them afterwards.
	created := missingTargets(rootfs, s.Mounts)
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o600); err != nil {
		return err
	}
	// The runtime's own errors go to a log, so a RUN that could not start
	// is not reported as the process's exit status.
	rt := runner.Runtime{Path: b.o.Runtime, Root: filepath.Join(w.dir, "state")}.WithLog(filepath.Join(w.dir, "runtime.log"))
	os.Remove(rt.Log)
	cmd := rt.Command("run", "--bundle", bundle, id)
	cmd.Stdout, cmd.Stderr = b.o.Out, b.o.Out
	runErr := cmd.Run()
	rt.Delete(id)
	runner.RemoveCgroup(b.o.CgroupParent, s.Linux.CgroupsPath)
	// Through the kernel's overlay's upper dir; fuse-overlayfs leaves
	// its marks in the dirs it made, and vfs has no upper yet: through
	// the rootfs.
	if b.kind == overlay.KindKernel {
		removeCreated(w.upper, created)
	} else {
		removeCreated(w.merged, created)
	}
	if runErr != nil {
		if msg := rt.LogError(); msg != "" {
			return fmt.Errorf("runtime could not run %q: %s", strings.Join(args, " "), msg)
		}
		if ee, ok := runErr.(*exec.ExitError); ok {
			return &ExitError{Args: strings.Join(args, " "), Status: ee.ExitCode()}
		}
		return fmt.Errorf("running %s: %w", b.o.Runtime, runErr)
	}
	return nil
}

// allCaps is every capability we hold in our bounding set (root here
// lacks CAP_SYS_RESOURCE, which no container can then get either).
func allCaps() []string {
	var out []string
	for _, c := range capability.ListKnown() {
		if ok, err := capability.GetBound(c); err == nil && ok {
			out = append(out, "CAP_"+strings.ToUpper(c.String()))
		}
	}
	return out
}

// ExitError is a RUN whose process exited non-zero: myimg build exits
// with the same status, as buildah and docker build do.
type ExitError struct {
	Args   string
	Status int
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("process %q exited with status %d", e.Args, e.Status)
}

// ExitCode makes it a cli.ExitCoder.
func (e *ExitError) ExitCode() int { return e.Status }

// missingTargets lists mount destinations (and their missing parents)
// that do not exist in rootfs yet.
func missingTargets(rootfs string, mounts []rspec.Mount) []string {
	seen := map[string]bool{}
	for _, m := range mounts {
		for p := path.Clean(m.Destination); p != "/" && p != "."; p = path.Dir(p) {
			if seen[p] {
				continue
			}
			hp, err := securejoin.SecureJoin(rootfs, p)
			if err != nil {
				continue
			}
			if _, err := os.Lstat(hp); os.IsNotExist(err) {
				seen[p] = true
			}
		}
	}
	var out []string
	for p := range seen {
		out = append(out, p)
	}
	// Deepest first, so parents are empty when their turn comes.
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

func removeCreated(upper string, paths []string) {
	for _, p := range paths {
		hp := filepath.Join(upper, p)
		st, err := os.Lstat(hp)
		if err != nil {
			continue
		}
		if (st.IsDir() && isEmptyDir(hp)) || (st.Mode().IsRegular() && st.Size() == 0) {
			os.Remove(hp)
		}
	}
}

// CleanStale removes what killed builds left in the store's ingest: their
// RUN containers (deleted through runtime) and their temp directories.
// Live builds are left alone.
func CleanStale(s *store.Store, runtime string) error {
	return s.CleanStaleIngest(func(dir string) { deleteStaleContainers(runtime, dir) })
}

// deleteStaleContainers force-deletes the RUN containers a killed build
// left under dir (one runtime root per workspace: dir/*/state), so their
// processes and cgroups go before the directory does.
func deleteStaleContainers(runtime, dir string) {
	if runtime == "" {
		return
	}
	states, _ := filepath.Glob(filepath.Join(dir, "*", "state"))
	for _, st := range states {
		ents, _ := os.ReadDir(st)
		for _, e := range ents {
			if e.IsDir() {
				runner.Runtime{Path: runtime, Root: st}.Delete(e.Name())
			}
		}
	}
}

// workdir creates WORKDIR in the image, as docker and buildah do, so that
// an image whose WORKDIR nothing else creates still runs (the runtime
// refuses a missing cwd). Directories it makes belong to the current
// USER, as with BuildKit; an existing directory is left alone and the
// step is an empty layer.
func (r *stageRun) workdir(dir, usr string) error {
	return r.fsStep("WORKDIR "+dir, "WORKDIR "+dir+" "+usr, "", func(w *workspace) error {
		u, err := unpack.ResolveUser(w.merged, usr)
		if err != nil {
			return err
		}
		rel := ""
		for _, part := range strings.Split(strings.Trim(dir, "/"), "/") {
			if part == "" {
				continue
			}
			rel += "/" + part
			next, err := securejoin.SecureJoin(w.merged, rel)
			if err != nil {
				return err
			}
			if err := os.Mkdir(next, 0o755); err == nil {
				if err := os.Lchown(next, int(u.UID), int(u.GID)); err != nil {
					return err
				}
			} else if !errors.Is(err, fs.ErrExist) {
				return err
			}
			if fi, err := os.Stat(next); err != nil || !fi.IsDir() {
				return fmt.Errorf("%s exists and is not a directory", rel)
			}
		}
		return nil
	})
}

// withProxies adds the proxy build args (proxyArgs) the environment does
// not set already, in a stable order.
func (r *stageRun) withProxies(env []string) []string {
	var keys []string
	for k := range r.b.o.BuildArgs {
		if proxyArgs[k] && !hasEnv(env, k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := slices.Clone(env)
	for _, k := range keys {
		out = append(out, k+"="+r.b.o.BuildArgs[k])
	}
	return out
}

// RunCaps is the capability set of RUN containers: the default set with
// --cap-add and --cap-drop applied (ALL names every capability we hold).
func RunCaps(add, drop []string) ([]string, error) {
	norm := func(flag, c string) (string, error) {
		c = strings.ToUpper(strings.TrimSpace(c))
		if c == "ALL" {
			return c, nil
		}
		if !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		for _, k := range capability.ListKnown() {
			if "CAP_"+strings.ToUpper(k.String()) == c {
				return c, nil
			}
		}
		return "", fmt.Errorf("%s %s: unknown capability", flag, c)
	}
	caps := slices.Clone(unpack.DefaultCaps)
	for _, d := range drop {
		c, err := norm("--cap-drop", d)
		if err != nil {
			return nil, err
		}
		caps = slices.DeleteFunc(caps, func(x string) bool { return c == "ALL" || x == c })
	}
	for _, a := range add {
		c, err := norm("--cap-add", a)
		if err != nil {
			return nil, err
		}
		if c == "ALL" {
			caps = allCaps()
			continue
		}
		if !slices.Contains(caps, c) {
			caps = append(caps, c)
		}
	}
	sort.Strings(caps)
	return caps, nil
}

// ParseUlimit reads --ulimit name=soft[:hard] (-1 or unlimited: no limit).
func ParseUlimit(s string) (rspec.POSIXRlimit, error) {
	name, val, ok := strings.Cut(s, "=")
	typ := "RLIMIT_" + strings.ToUpper(strings.TrimSpace(name))
	if _, known := rlimits.Resources[typ]; !ok || !known {
		return rspec.POSIXRlimit{}, fmt.Errorf("--ulimit %q: want name=soft[:hard] with a setrlimit(2) name (nofile, nproc, core, ...)", s)
	}
	num := func(v string) (uint64, error) {
		if v == "-1" || v == "unlimited" {
			return ^uint64(0), nil
		}
		return strconv.ParseUint(v, 10, 64)
	}
	soft, hard, two := strings.Cut(val, ":")
	l := rspec.POSIXRlimit{Type: typ}
	var err error
	if l.Soft, err = num(soft); err != nil {
		return l, fmt.Errorf("--ulimit %q: %w", s, err)
	}
	l.Hard = l.Soft
	if two {
		if l.Hard, err = num(hard); err != nil {
			return l, fmt.Errorf("--ulimit %q: %w", s, err)
		}
	}
	if l.Soft > l.Hard {
		return l, fmt.Errorf("--ulimit %q: soft limit above the hard one", s)
	}
	return l, nil
}
