package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/urfave/cli/v3"

	"github.com/myrun-org/myrun/imgtool/build"
	"github.com/myrun-org/myrun/imgtool/registry"
	"github.com/myrun-org/myrun/imgtool/store"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func buildCommand() *cli.Command {
	return &cli.Command{
		Name:      "build",
		Aliases:   []string{"bud"},
		Usage:     "Build an image using instructions from Containerfiles",
		ArgsUsage: "[CONTEXT: DIR, TARBALL, -, http(s) URL, or git URL[#ref[:subdir]]]",
		Description: `Builds an image from a Containerfile (or Dockerfile) and a build context
directory. RUN instructions run in containers started with the runtime binary
(--runtime, $MYIMG_RUNTIME, else "myrun" beside myimg or in $PATH) in a new
network namespace with only loopback, unless --network=host.`,
		Flags:  buildFlags(),
		Action: buildAction,
	}
}

func buildFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "tag", Aliases: []string{"t"}, Usage: "`name` to apply to the resulting image"},
		&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Usage: "`pathname` of a Containerfile, - for stdin (default CONTEXT/Containerfile or CONTEXT/Dockerfile)"},
		&cli.StringSliceFlag{Name: "build-arg", Usage: "`argument=value` to supply to the builder"},
		&cli.StringFlag{Name: "target", Usage: "set the target build `stage` to build"},
		&cli.BoolFlag{Name: "no-cache", Usage: "do not use existing cached images for the container build"},
		&cli.BoolFlag{Name: "layers", Value: true, Usage: "cache intermediate layers during build (false: one layer per stage)"},
		&cli.StringFlag{Name: "format", Value: "oci", Usage: "image `format`: oci, or docker (v2s2 manifest and config, which keep HEALTHCHECK, ONBUILD and SHELL for docker and podman)", Sources: cli.EnvVars("BUILDAH_FORMAT")},
		&cli.StringFlag{Name: "compression", Value: "none", Usage: "compression of the layers in the local store: none (as buildah and podman keep them; push and save compress), gzip or zstd"},
		&cli.Int64Flag{Name: "timestamp", Value: -1, Usage: "set created timestamp and clamp file mtimes to `seconds` since the epoch (default $SOURCE_DATE_EPOCH)"},
		&cli.StringFlag{Name: "runtime", Usage: "`path` of the OCI runtime for RUN", Sources: cli.EnvVars("MYIMG_RUNTIME")},
		&cli.StringFlag{Name: "network", Usage: "network for RUN: private (loopback only, default) or host"},
		&cli.StringSliceFlag{Name: "allow", Usage: "`entitlement` for RUN: security.insecure (RUN --security=insecure runs privileged); network.host is accepted (RUN --network=host needs no entitlement, as in buildah)"},
		&cli.StringSliceFlag{Name: "build-context", Usage: "`name=DIR|docker-image://REF|oci-layout://PATH[:TAG]` standing for a stage or image of that name"},
		&cli.StringSliceFlag{Name: "cap-add", Usage: "`capability` added to RUN's default set (ALL: every one)"},
		&cli.StringSliceFlag{Name: "cap-drop", Usage: "`capability` dropped from RUN's default set (ALL: every one)"},
		&cli.StringSliceFlag{Name: "ulimit", Usage: "`name=soft[:hard]` rlimit for RUN (nofile, nproc, core, ...)"},
		&cli.StringFlag{Name: "iidfile", Usage: "write the image ID (sha256:...) to `file`"},
		&cli.StringSliceFlag{Name: "label", Usage: "`key=value` label for the image's config"},
		&cli.StringSliceFlag{Name: "annotation", Usage: "`key=value` annotation for the image's manifest"},
		&cli.BoolFlag{Name: "squash", Usage: "one new layer on top of the base (as --layers=false: no step cache)"},
		&cli.StringFlag{Name: "pull", Value: "never", Usage: "pull FROM/--from images: always, missing (also true) or never (also false)"},
		&cli.BoolFlag{Name: "tls-verify", Value: true, Usage: "for --pull: require HTTPS and verify certificates (see myimg pull)"},
		authFileFlag,
		&cli.StringSliceFlag{Name: "platform", Usage: "target `os/arch[/variant]` (default: the host's), repeatable or comma-separated (several: one image each, in the --manifest list); a base of another platform is an error, RUN needs a qemu binfmt_misc handler"},
		&cli.BoolFlag{Name: "all-platforms", Usage: "build for every platform the base images offer (into the --manifest list)"},
		&cli.StringFlag{Name: "manifest", Usage: "add the image(s) to the image index (manifest list) `name`, one entry per platform"},
		&cli.StringSliceFlag{Name: "secret", Usage: "`id=ID,src=FILE` or id=ID,env=VAR: a secret for RUN --mount=type=secret (never in a layer or the cache key)"},
		&cli.StringSliceFlag{Name: "ssh", Usage: "`default` ($SSH_AUTH_SOCK) or ID=SOCKET: an ssh agent for RUN --mount=type=ssh"},
		&cli.StringSliceFlag{Name: "cache-from", Usage: "build cache to read: OCI layout `oci:PATH[:TAG]` (or type=local,src=PATH), or a registry host/repo[:tag] (or type=registry,ref=)"},
		&cli.StringSliceFlag{Name: "cache-to", Usage: "where this build's cache goes: OCI layout `oci:PATH[:TAG]` (or type=local,dest=PATH), or a registry host/repo[:tag]"},
		&cli.StringFlag{Name: "cgroup-parent", Usage: "absolute cgroup `path` RUN containers are placed under (default /myimg-build; rootless none: RUN stays in the builder's cgroup)"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "refrain from announcing build instructions and image read/write progress"},
	}
}

func buildAction(ctx context.Context, cmd *cli.Command) error {
	if err := needArgs(cmd, 0, 1); err != nil {
		return err
	}
	build.ReexecInPrivateMountNS()
	s, err := openStore(cmd)
	if err != nil {
		return err
	}
	ctxDir := cmd.Args().First()
	if ctxDir == "" {
		ctxDir = "."
	}
	o, platforms, err := buildFlagOptions(cmd)
	if err != nil {
		return err
	}
	contexts, closeContexts, err := namedContexts(s, cmd.StringSlice("build-context"))
	defer closeContexts()
	if err != nil {
		return err
	}
	o.Contexts = contexts
	if err := buildRunFlags(cmd, &o); err != nil {
		return err
	}
	bctx, err := openBuildContext(cmd, s, ctxDir, &o)
	if err != nil {
		return err
	}
	defer bctx.Close()
	if err := buildRegistryHooks(cmd, s, &o); err != nil {
		return err
	}
	if cmd.Bool("quiet") {
		o.Out = nil
	}
	if cmd.Bool("all-platforms") {
		if len(platforms) > 0 {
			return fmt.Errorf("--all-platforms and --platform are exclusive")
		}
		if platforms, err = build.BasePlatforms(s, o); err != nil {
			return err
		}
		if len(platforms) == 1 {
			o.Platform = platforms[0]
		}
	}
	if len(platforms) > 1 || cmd.String("manifest") != "" {
		return buildManifestList(s, o, platforms, cmd.String("manifest"), cmd.String("iidfile"), cmd.Bool("quiet"))
	}
	res, err := build.Build(s, o)
	if err != nil {
		return err
	}
	if f := cmd.String("iidfile"); f != "" {
		if err := os.WriteFile(f, []byte("sha256:"+res.ImageID), 0o644); err != nil {
			return fmt.Errorf("--iidfile: %w", err)
		}
	}
	if cmd.Bool("quiet") {
		fmt.Println(res.ImageID)
	}
	return nil
}

// buildFlagOptions reads the flags that need no store or context: build
// args, timestamp, network, entitlements, secrets, ssh, platforms,
// labels, annotations, pull policy, and the plain ones.
func buildFlagOptions(cmd *cli.Command) (build.Options, []ocispec.Platform, error) {
	args := map[string]string{}
	for _, a := range cmd.StringSlice("build-arg") {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			// --build-arg NAME takes the value from the environment.
			if v, ok = os.LookupEnv(k); !ok {
				continue
			}
		}
		args[k] = v
	}
	o := build.Options{
		Tags: cmd.StringSlice("tag"), BuildArgs: args, Target: cmd.String("target"), NoCache: cmd.Bool("no-cache"),
		Layers: cmd.Bool("layers") && !cmd.Bool("squash"), Compression: cmd.String("compression"),
		Runtime: findRuntime(cmd.String("runtime")), Network: cmd.String("network"), Format: cmd.String("format"),
		CgroupParent: cmd.String("cgroup-parent"), Out: os.Stdout,
	}
	var err error
	if o.Timestamp, err = timestampFlag(cmd); err != nil {
		return o, nil, err
	}
	if o.Storage, err = storageDriver(cmd); err != nil {
		return o, nil, err
	}
	switch o.Network {
	case "", "private", "host":
	default:
		return o, nil, fmt.Errorf("--network %q: want private or host", o.Network)
	}
	for _, a := range cmd.StringSlice("allow") {
		switch a {
		case "security.insecure":
			o.AllowInsecure = true
		case "network.host":
		default:
			return o, nil, fmt.Errorf("--allow %q: want security.insecure or network.host", a)
		}
	}
	if o.Secrets, err = parseSecrets(cmd.StringSlice("secret")); err != nil {
		return o, nil, err
	}
	if o.SSH, err = parseSSH(cmd.StringSlice("ssh")); err != nil {
		return o, nil, err
	}
	platforms, err := platformsFlag(cmd.StringSlice("platform"))
	if err != nil {
		return o, nil, err
	}
	if len(platforms) == 1 {
		o.Platform = platforms[0]
	}
	if o.Labels, err = keyValues("--label", cmd.StringSlice("label")); err != nil {
		return o, nil, err
	}
	if o.Annotations, err = keyValues("--annotation", cmd.StringSlice("annotation")); err != nil {
		return o, nil, err
	}
	switch o.PullPolicy = cmd.String("pull"); o.PullPolicy {
	case "true":
		o.PullPolicy = "missing"
	case "false":
		o.PullPolicy = "never"
	case "always", "missing", "never":
	default:
		return o, nil, fmt.Errorf("--pull=%s: want always, missing or never", o.PullPolicy)
	}
	return o, platforms, nil
}

// namedContexts reads --build-context; a git or http(s) URL is fetched
// like the main context. The returned func removes what was fetched, also
// after an error.
func namedContexts(s *store.Store, flags []string) (map[string]build.NamedContext, func(), error) {
	contexts := map[string]build.NamedContext{}
	var fetched []*build.Context
	closeAll := func() {
		for _, c := range fetched {
			c.Close()
		}
	}
	for _, bc := range flags {
		if name, val, ok := strings.Cut(bc, "="); ok && name != "" && (build.IsGitURL(val) || strings.HasPrefix(val, "http://") || strings.HasPrefix(val, "https://")) {
			nctx, err := build.OpenContext(val, nil, func() (string, error) { return s.TempDir("context-") })
			if err != nil {
				return nil, closeAll, fmt.Errorf("--build-context %s: %w", bc, err)
			}
			fetched = append(fetched, nctx)
			if nctx.FileData != nil {
				return nil, closeAll, fmt.Errorf("--build-context %s: the URL holds no tar archive or git repository", bc)
			}
			contexts[name] = build.NamedContext{Dir: nctx.Dir}
			continue
		}
		name, nc, err := build.ParseBuildContext(bc)
		if err != nil {
			return nil, closeAll, err
		}
		contexts[name] = nc
	}
	return contexts, closeAll, nil
}

// buildRunFlags reads what RUN and the cache take: capabilities, cache
// imports and exports, rlimits.
func buildRunFlags(cmd *cli.Command, o *build.Options) error {
	var err error
	if cmd.IsSet("cap-add") || cmd.IsSet("cap-drop") {
		if o.Caps, err = build.RunCaps(cmd.StringSlice("cap-add"), cmd.StringSlice("cap-drop")); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		name string
		into *[]build.CacheRef
	}{{"cache-from", &o.CacheFrom}, {"cache-to", &o.CacheTo}} {
		for _, v := range cmd.StringSlice(f.name) {
			r, err := build.ParseCacheRef("--"+f.name, v)
			if err != nil {
				return err
			}
			*f.into = append(*f.into, r)
		}
	}
	for _, u := range cmd.StringSlice("ulimit") {
		l, err := build.ParseUlimit(u)
		if err != nil {
			return err
		}
		o.Ulimits = append(o.Ulimits, l)
	}
	return nil
}

// openBuildContext opens CONTEXT (a directory, tarball, stdin or URL) and
// finds the Containerfile: -f - reads stdin, a Containerfile given as the
// context leaves the context empty, and a relative -f names a file inside
// a fetched context. It sets o's ContextDir, File and FileData.
func openBuildContext(cmd *cli.Command, s *store.Store, ctxDir string, o *build.Options) (*build.Context, error) {
	var fileData []byte
	if cmd.String("file") == "-" {
		if ctxDir == "-" {
			return nil, fmt.Errorf("-f - and CONTEXT - cannot both read stdin")
		}
		var err error
		if fileData, err = io.ReadAll(os.Stdin); err != nil {
			return nil, fmt.Errorf("-f -: %w", err)
		}
	}
	bctx, err := build.OpenContext(ctxDir, os.Stdin, func() (string, error) { return s.TempDir("context-") })
	if err != nil {
		return nil, err
	}
	file := cmd.String("file")
	if bctx.FileData != nil {
		// A Containerfile came instead of a context: the context is empty.
		if file != "" {
			bctx.Close()
			return nil, fmt.Errorf("-f %s: CONTEXT %s is a Containerfile, not a context", file, ctxDir)
		}
		fileData = bctx.FileData
	} else if bctx.Remote && fileData == nil && !filepath.IsAbs(file) {
		if file, fileData, err = fileInContext(bctx.Dir, file, ctxDir); err != nil {
			bctx.Close()
			return nil, err
		}
	}
	o.ContextDir, o.File, o.FileData = bctx.Dir, file, fileData
	if cmd.String("file") == "-" {
		o.File = ""
	}
	return bctx, nil
}

// fileInContext reads -f FILE (default Containerfile, else Dockerfile)
// inside a fetched context dir, as docker build; errors name it as given
// (CONTEXT ctxDir), not by our temp dir.
func fileInContext(dir, file, ctxDir string) (string, []byte, error) {
	name := file
	if name == "" {
		name = "Containerfile"
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			name = "Dockerfile"
		}
	}
	p, err := securejoin.SecureJoin(dir, name)
	if err != nil {
		return "", nil, fmt.Errorf("-f: %w", err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		if file == "" {
			return "", nil, fmt.Errorf("no Containerfile or Dockerfile in the build context %s (or give one with -f)", ctxDir)
		}
		return "", nil, fmt.Errorf("-f %s: not in the build context %s", file, ctxDir)
	}
	return name, data, nil
}

// buildRegistryHooks gives the build what reaches registries: the cache
// import/export for registry --cache-from/--cache-to, and pulls of
// FROM/--from images unless --pull=never.
func buildRegistryHooks(cmd *cli.Command, s *store.Store, o *build.Options) error {
	if hasRegistryCache(o.CacheFrom) || hasRegistryCache(o.CacheTo) {
		ro, err := registryOpts(cmd)
		if err != nil {
			return err
		}
		ro.Progress = nil
		o.CacheRegistry = &build.CacheRegistry{
			Pull: func(cs *store.Store, ref string) (ocispec.Descriptor, error) { return registry.Pull(cs, ref, ro) },
			Push: func(cs *store.Store, name, ref string) error { _, err := registry.Push(cs, name, ref, ro); return err },
		}
	}
	if o.PullPolicy != "never" {
		ro, err := registryOpts(cmd)
		if err != nil {
			return err
		}
		ro.Progress = nil
		o.Pull = func(ref string) (ocispec.Descriptor, error) { return registry.PullAny(s, ref, ro) }
	}
	return nil
}

// keyValues reads repeated key=value flags.
func keyValues(flag string, vals []string) (map[string]string, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, v := range vals {
		k, val, ok := strings.Cut(v, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s %q: want key=value", flag, v)
		}
		out[k] = val
	}
	return out, nil
}

// parseSecrets reads --secret id=ID,src=FILE|env=VAR (type=file|env and
// source= as docker buildx spells them; id alone: the variable ID).
func parseSecrets(flags []string) (map[string]build.Secret, error) {
	out := map[string]build.Secret{}
	for _, f := range flags {
		var id, typ string
		var sec build.Secret
		for _, kv := range strings.Split(f, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, fmt.Errorf("--secret %q: %q is not key=value", f, kv)
			}
			switch strings.ToLower(k) {
			case "id":
				id = v
			case "src", "source":
				sec.File = v
			case "env":
				sec.Env = v
			case "type":
				typ = v
			default:
				return nil, fmt.Errorf("--secret %q: unknown key %q (want id, src, env, type)", f, k)
			}
		}
		if id == "" {
			return nil, fmt.Errorf("--secret %q: id is required", f)
		}
		switch typ {
		case "", "file", "env":
		default:
			return nil, fmt.Errorf("--secret %q: type %q: want file or env", f, typ)
		}
		if sec.File != "" && sec.Env != "" {
			return nil, fmt.Errorf("--secret %q: src and env are exclusive", f)
		}
		if sec.File == "" && sec.Env == "" {
			if typ == "file" {
				sec.File = id
			} else {
				sec.Env = id
			}
		}
		if sec.File != "" {
			if st, err := os.Stat(sec.File); err != nil {
				return nil, fmt.Errorf("--secret %q: %w", f, err)
			} else if !st.Mode().IsRegular() {
				return nil, fmt.Errorf("--secret %q: %s is not a regular file", f, sec.File)
			}
		} else if _, ok := os.LookupEnv(sec.Env); !ok {
			return nil, fmt.Errorf("--secret %q: environment variable %s is not set", f, sec.Env)
		}
		out[id] = sec
	}
	return out, nil
}

// parseSSH reads --ssh default|ID=SOCKET (an agent socket; key files,
// which buildx also takes, are refused).
func parseSSH(flags []string) (map[string]string, error) {
	out := map[string]string{}
	for _, f := range flags {
		id, sock, ok := strings.Cut(f, "=")
		if !ok {
			sock = os.Getenv("SSH_AUTH_SOCK")
			if sock == "" {
				return nil, fmt.Errorf("--ssh %q: no socket given and SSH_AUTH_SOCK is not set", f)
			}
		}
		if strings.Contains(sock, ",") {
			return nil, fmt.Errorf("--ssh %q: one agent socket per id", f)
		}
		st, err := os.Stat(sock)
		if err != nil {
			return nil, fmt.Errorf("--ssh %q: %w", f, err)
		}
		if st.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("--ssh %q: %s is not a socket (key files are not supported: give an agent socket)", f, sock)
		}
		out[id] = sock
	}
	return out, nil
}

// findRuntime picks the runtime: the flag/env value, else myrun next to
// our own executable, else myrun in PATH.
func findRuntime(flag string) string {
	if flag != "" {
		if p, err := exec.LookPath(flag); err == nil {
			if a, err := filepath.Abs(p); err == nil {
				return a
			}
		}
		return flag
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "myrun")
		if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
			return p
		}
	}
	if p, err := exec.LookPath("myrun"); err == nil {
		return p
	}
	return ""
}

func hasRegistryCache(refs []build.CacheRef) bool {
	for _, r := range refs {
		if r.Registry != "" {
			return true
		}
	}
	return false
}
