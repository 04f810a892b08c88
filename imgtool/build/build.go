// Package build executes Containerfiles: every instruction, multi-stage
// builds, one layer per filesystem-changing step computed from an overlay
// upper directory, a build cache keyed by the parent chain and the
// instruction with the digests of its inputs, and RUN steps executed by the
// runtime binary (myrun) in a real container.
package build

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/myrun-org/myrun/imgtool/archive"
	"github.com/myrun-org/myrun/imgtool/layer"
	"github.com/myrun-org/myrun/imgtool/overlay"
	"github.com/myrun-org/myrun/imgtool/runner"
	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/myrun-org/myrun/imgtool/unpack"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// Options of a build.
type Options struct {
	ContextDir  string
	File        string // Containerfile; default CONTEXT/Containerfile or CONTEXT/Dockerfile
	Tags        []string
	BuildArgs   map[string]string
	Target      string
	NoCache     bool
	Layers      bool       // one layer per step (and cache); false squashes a stage's changes into one layer
	Compression string     // layers in the store: none (default; push and save compress), gzip or zstd
	Timestamp   *time.Time // SOURCE_DATE_EPOCH / --timestamp
	Runtime     string     // runtime binary for RUN
	Network     string     // "" / "private": new netns with loopback only; "host"
	// AllowInsecure lets RUN --security=insecure run privileged
	// (--allow security.insecure, as BuildKit's entitlement).
	AllowInsecure bool
	// Secrets (--secret) and SSH agent sockets (--ssh) by id, for RUN
	// --mount=type=secret|ssh.
	Secrets map[string]Secret
	SSH     map[string]string
	// Platform is the target platform (--platform); zero: the host's.
	Platform ocispec.Platform
	// Contexts are named build contexts (--build-context NAME=DIR or
	// NAME=docker-image://REF): they stand for a stage or image of that
	// name in FROM, COPY --from and RUN --mount from=.
	Contexts map[string]NamedContext
	// Caps is the capability set of RUN (RunCaps of --cap-add/--cap-drop;
	// nil: the default set); Ulimits replace RUN's rlimits of their type.
	Caps    []string
	Ulimits []rspec.POSIXRlimit
	// FileData is the Containerfile itself (-f -), named File in errors.
	FileData []byte
	// Labels (--label) go into the final image's config, Annotations
	// (--annotation) into its manifest.
	Labels, Annotations map[string]string
	// PullPolicy for FROM/--from images: "never" (default), "missing"
	// or "always", through Pull.
	PullPolicy string
	Pull       func(ref string) (ocispec.Descriptor, error)
	// Format of the image written: FormatOCI (default) or FormatDocker
	// (Docker v2s2 manifest and config media types, as buildah --format).
	Format string
	// CacheFrom are OCI layouts whose build cache records a step may use
	// (--cache-from); CacheTo get the records of this build (--cache-to).
	CacheFrom, CacheTo []CacheRef
	CacheRegistry      *CacheRegistry // for registry CacheRefs
	// CacheKeys are more step records for --cache-to: those of the
	// earlier builds of one multi-platform invocation (Result.CacheKeys),
	// so that one export holds every platform's steps.
	CacheKeys []digest.Digest
	// CgroupParent is the absolute cgroup path RUN containers go under.
	// Empty: /myimg-build as root; rootless, none (the RUN container stays
	// in the builder's cgroup): a rootless builder cannot make a cgroup
	// below the root, and runc refuses a cgroupsPath it cannot create
	// ("mkdir /sys/fs/cgroup/myimg-build: permission denied", found in the
	// VM lane's myimg-runc).
	CgroupParent string
	// Storage is how step rootfses are made (--storage-driver,
	// overlay.mount_program): kernel overlay, fuse-overlayfs or a copy,
	// with where its driver and mount program were set, for errors
	// (NameFrom, ProgFrom; "" is the flags' names).
	Storage unpack.Storage
	Out     io.Writer // step lines and RUN output
}

// NamedContext is a directory or an image reference (store, oci:).
type NamedContext struct {
	Dir   string
	Image string
}

// ParseBuildContext reads --build-context NAME=DIR|docker-image://REF|oci-layout://PATH[:TAG].
func ParseBuildContext(s string) (string, NamedContext, error) {
	name, val, ok := strings.Cut(s, "=")
	if !ok || name == "" || val == "" {
		return "", NamedContext{}, fmt.Errorf("--build-context %q: want NAME=DIR or NAME=docker-image://REF", s)
	}
	switch {
	case strings.HasPrefix(val, "docker-image://"):
		return name, NamedContext{Image: strings.TrimPrefix(val, "docker-image://")}, nil
	case strings.HasPrefix(val, "oci-layout://"):
		return name, NamedContext{Image: "oci:" + strings.TrimPrefix(val, "oci-layout://")}, nil
	case strings.Contains(val, "://"):
		return "", NamedContext{}, fmt.Errorf("--build-context %q: want a directory, docker-image://, oci-layout://, an http(s) tarball or a git URL", s)
	}
	abs, err := filepath.Abs(val)
	if err != nil {
		return "", NamedContext{}, err
	}
	if st, err := os.Stat(abs); err != nil || !st.IsDir() {
		return "", NamedContext{}, fmt.Errorf("--build-context %q: %s is not a directory", s, val)
	}
	return name, NamedContext{Dir: abs}, nil
}

// Result of a build.
type Result struct {
	Manifest  ocispec.Descriptor
	ImageID   string // config digest hex, as podman/buildah print it
	RunSteps  int    // RUN steps actually executed
	CacheHits int
	// CacheKeys are the steps this build used or made (what --cache-to
	// exports).
	CacheKeys []digest.Digest
}

type stageResult struct {
	img    store.Image
	layers []ocispec.Descriptor
	key    digest.Digest
}

type builder struct {
	pulled  map[string]bool // --pull=always: refs pulled by this build
	s       *store.Store
	o       Options
	p       *parsed
	lex     *shell.Lex
	tmp     string
	meta    map[string]string // ARG values before the first FROM
	used    map[string]bool   // build args something consumed
	results map[int]*stageResult
	// imported: --cache-from records by key; usedKeys: the steps this
	// build looked up with success or recorded (what --cache-to exports).
	imported map[digest.Digest]importedRecord
	usedKeys map[digest.Digest]bool
	mounts   []string
	ignore   *ignorer
	res      Result
	multi    bool
	stageNo  int
	nstages  int
	seq      int
	kind     string // the storage kind in use, chosen at the first mount
	fuseProg string // its mount program, for fuse-overlayfs
	mountOpt string // the storage's mountopt as the steps' mounts take it
}

// Build runs a build and tags the result.
func Build(s *store.Store, o Options) (*Result, error) {
	file, data, err := checkOptions(&o)
	if err != nil {
		return nil, err
	}
	ctxDir := o.ContextDir
	p, err := parseContainerfile(file, data)
	if err != nil {
		return nil, err
	}
	for _, w := range p.warnings {
		fmt.Fprintf(o.Out, "[Warning] %s\n", w)
	}
	unlock, err := s.WriterLock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	// A build killed mid-RUN leaves its overlay mounted in ingest.
	if err := CleanStale(s, o.Runtime); err != nil {
		return nil, err
	}
	tmp, err := s.TempDir("build-")
	if err != nil {
		return nil, err
	}
	// RUN containers live in here: if we die, the next build deletes them.
	if err := os.WriteFile(filepath.Join(tmp, store.HoldFile), nil, 0o600); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	b := &builder{s: s, o: o, p: p, lex: shell.NewLex(p.escape), tmp: tmp,
		meta: map[string]string{}, used: map[string]bool{}, results: map[int]*stageResult{}, usedKeys: map[digest.Digest]bool{}}
	defer b.cleanup()
	if err := b.importCaches(); err != nil {
		return nil, err
	}
	if b.ignore, err = loadIgnore(ctxDir); err != nil {
		return nil, err
	}
	if err := b.metaArgs(); err != nil {
		return nil, err
	}
	target := len(p.stages) - 1
	if o.Target != "" {
		st, ok := p.findStage(o.Target, len(p.stages))
		if !ok {
			return nil, fmt.Errorf("%s: target stage %q not found", file, o.Target)
		}
		target = st.index
	}
	if err := b.runStages(target); err != nil {
		return nil, err
	}
	final := b.results[target]
	// The cache goes out before the image is committed: a --cache-to that
	// fails (registry down, push refused) fails the build with no tag and
	// no untagged image. Its records are the steps', all made by now.
	if err := b.exportCaches(); err != nil {
		return nil, err
	}
	desc, err := b.commit(final)
	if err != nil {
		return nil, err
	}
	for k := range o.BuildArgs {
		if !b.used[k] && !proxyArgs[k] {
			fmt.Fprintf(o.Out, "[Warning] one or more build args were not consumed: [%s]\n", k)
		}
	}
	b.res.Manifest = desc
	for k := range b.usedKeys {
		b.res.CacheKeys = append(b.res.CacheKeys, k)
	}
	return &b.res, nil
}

// checkOptions fills o's defaults, makes its context directory absolute
// and checks the options that need no store; it returns the
// Containerfile's name (for errors) and content.
func checkOptions(o *Options) (string, []byte, error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Compression == "" {
		// As buildah and podman keep them in containers-storage: a
		// gzip of every layer at commit was most of a build's CPU
		// (docs/benchmarks.md); push and save compress.
		o.Compression = layer.None
	}
	if o.Platform.Architecture == "" {
		o.Platform = store.HostPlatform()
	}
	if err := o.Storage.Check(); err != nil {
		return "", nil, err
	}
	if o.CgroupParent == "" && !rootlessBuilder() {
		o.CgroupParent = "/myimg-build"
	}
	ctxDir, err := filepath.Abs(o.ContextDir)
	if err != nil {
		return "", nil, err
	}
	if st, err := os.Stat(ctxDir); err != nil || !st.IsDir() {
		return "", nil, fmt.Errorf("build context %s is not a directory", o.ContextDir)
	}
	o.ContextDir = ctxDir
	file := o.File
	data := o.FileData
	if data == nil {
		if file == "" {
			file = filepath.Join(ctxDir, "Containerfile")
			if _, err := os.Stat(file); err != nil {
				file = filepath.Join(ctxDir, "Dockerfile")
				if _, err := os.Stat(file); errors.Is(err, fs.ErrNotExist) {
					return "", nil, fmt.Errorf("no Containerfile or Dockerfile in the build context %s (or give one with -f)", o.ContextDir)
				}
			}
		}
		if data, err = os.ReadFile(file); err != nil {
			return "", nil, err
		}
	} else if file == "" {
		file = "Containerfile"
	}
	switch o.Format {
	case "", FormatOCI:
		o.Format = FormatOCI
	case FormatDocker:
		if o.Compression == layer.Zstd {
			return "", nil, fmt.Errorf("--format docker: Docker v2s2 has no zstd layer type (use --compression gzip or none)")
		}
		if len(o.Annotations) > 0 {
			return "", nil, fmt.Errorf("--annotation: Docker v2s2 manifests have no annotations (use --format oci)")
		}
	default:
		return "", nil, fmt.Errorf("--format %q: want oci or docker", o.Format)
	}
	switch o.PullPolicy {
	case "", "never":
	case "missing", "always":
		if o.Pull == nil {
			return "", nil, fmt.Errorf("--pull=%s: no registry access configured", o.PullPolicy)
		}
	default:
		return "", nil, fmt.Errorf("--pull=%s: want always, missing or never", o.PullPolicy)
	}
	return file, data, nil
}

// runStages builds the stages the target needs, in order; their results
// are in b.results.
func (b *builder) runStages(target int) error {
	need, err := b.neededStages(target)
	if err != nil {
		return err
	}
	b.multi = len(need) > 1
	b.nstages = len(need)
	for _, i := range need {
		b.stageNo++
		r, err := b.runStage(b.p.stages[i])
		if err != nil {
			return err
		}
		b.results[i] = r
	}
	return nil
}

func (b *builder) cleanup() {
	for i := len(b.mounts) - 1; i >= 0; i-- {
		overlay.Unmount(b.mounts[i])
	}
	os.RemoveAll(b.tmp)
	if b.res.RunSteps > 0 {
		// The parent cgroup is ours (below the hierarchy root); it goes when
		// no other build uses it.
		runner.RemoveCgroup("/", b.o.CgroupParent)
	}
}

// metaArgs evaluates ARGs before the first FROM (plus predefined ones).
func (b *builder) metaArgs() error {
	for k, v := range predefinedArgs(b.o.Platform, store.HostPlatform()) {
		b.meta[k] = v
	}
	for _, st := range b.p.meta {
		if err := b.declareArgs(st, b.meta, nil); err != nil {
			return err
		}
	}
	return nil
}

// proxyArgs are Docker's predefined proxy build args: a --build-arg of one
// reaches every RUN without an ARG, and stays out of the cache key and the
// image (as docker does: they are the builder's, not the image's).
var proxyArgs = map[string]bool{
	"HTTP_PROXY": true, "http_proxy": true, "HTTPS_PROXY": true, "https_proxy": true,
	"FTP_PROXY": true, "ftp_proxy": true, "NO_PROXY": true, "no_proxy": true,
	"ALL_PROXY": true, "all_proxy": true,
}

// predefinedArgs are BuildKit's TARGET* (the --platform) and BUILD* (the
// host) args.
func predefinedArgs(target, build ocispec.Platform) map[string]string {
	return map[string]string{
		"TARGETPLATFORM": platformString(target), "TARGETOS": target.OS, "TARGETARCH": target.Architecture, "TARGETVARIANT": target.Variant,
		"BUILDPLATFORM": platformString(build), "BUILDOS": build.OS, "BUILDARCH": build.Architecture, "BUILDVARIANT": build.Variant,
	}
}

// neededStages lists the stages target depends on (FROM and COPY --from),
// in file order.
func (b *builder) neededStages(target int) ([]int, error) {
	need := map[int]bool{}
	var visit func(i int) error
	visit = func(i int) error {
		if need[i] {
			return nil
		}
		need[i] = true
		sd := b.p.stages[i]
		base, err := b.expandMeta(sd.from.BaseName)
		if err != nil {
			return &StepError{b.p.file, sd.line, "FROM", err}
		}
		if _, named := b.o.Contexts[base]; !named {
			if dep, ok := b.p.findStage(base, i); ok {
				if err := visit(dep.index); err != nil {
					return err
				}
			}
		}
		for _, st := range sd.steps {
			for _, from := range stepFroms(st.cmd) {
				if _, named := b.o.Contexts[from]; named {
					continue
				}
				if dep, ok := b.p.findStage(from, i); ok {
					if err := visit(dep.index); err != nil {
						return err
					}
				} else if _, err := b.s.Resolve(from); err != nil && !strings.HasPrefix(from, "oci:") && (b.o.PullPolicy == "" || b.o.PullPolicy == "never") {
					return &StepError{b.p.file, st.line, st.name, fmt.Errorf("--from=%s: no such stage or image", from)}
				}
			}
		}
		return nil
	}
	if err := visit(target); err != nil {
		return nil, err
	}
	var out []int
	for i := range b.p.stages {
		if need[i] {
			out = append(out, i)
		}
	}
	return out, nil
}

func (b *builder) expandMeta(word string) (string, error) {
	env := []string{}
	for k, v := range b.meta {
		env = append(env, k+"="+v)
	}
	s, _, err := b.lex.ProcessWord(word, shell.EnvsFromSlice(env))
	return s, err
}

func (b *builder) printf(format string, a ...any) {
	fmt.Fprintf(b.o.Out, format, a...)
}

// commit writes config and manifest and applies the tags.
func (b *builder) commit(r *stageResult) (ocispec.Descriptor, error) {
	img := r.img
	if b.o.Timestamp != nil {
		t := *b.o.Timestamp
		img.Created = &t
	} else if n := len(img.History); n > 0 && img.History[n-1].Created != nil {
		// The last step's time: a no-change rebuild gives the same image.
		img.Created = img.History[n-1].Created
	} else {
		now := time.Now().UTC()
		img.Created = &now
	}
	if len(b.o.Labels) > 0 {
		img.Config.Labels = maps.Clone(img.Config.Labels)
		if img.Config.Labels == nil {
			img.Config.Labels = map[string]string{}
		}
		maps.Copy(img.Config.Labels, b.o.Labels)
	}
	if b.o.Format == FormatOCI {
		var docker []string
		if img.Config.Healthcheck != nil {
			docker = append(docker, "HEALTHCHECK")
		}
		if len(img.Config.OnBuild) > 0 {
			docker = append(docker, "ONBUILD")
		}
		if len(img.Config.Shell) > 0 {
			docker = append(docker, "SHELL")
		}
		if len(docker) > 0 {
			b.printf("[Warning] %s: kept as Docker-format fields of the OCI config, which podman and docker read only from --format docker images\n", strings.Join(docker, ", "))
		}
	}
	var desc ocispec.Descriptor
	var err error
	if b.o.Format == FormatDocker {
		var layers []ocispec.Descriptor
		if layers, err = dockerLayers(r.layers); err != nil {
			return desc, err
		}
		desc, err = b.s.PutDockerImage(img, layers)
	} else {
		desc, err = b.s.PutImage(img, r.layers, b.o.Annotations)
	}
	if err != nil {
		return desc, err
	}
	b.res.ImageID = b.s.ImageID(desc)
	names := b.o.Tags
	if len(names) > 0 {
		b.printf("COMMIT %s\n", strings.Join(names, ", "))
	} else {
		b.printf("COMMIT\n")
	}
	for _, t := range names {
		if err := b.s.Tag(t, desc); err != nil {
			return desc, err
		}
	}
	if len(names) == 0 {
		if err := b.s.AddUntagged(desc); err != nil {
			return desc, err
		}
	}
	b.printf("--> %s\n", shortID(b.res.ImageID))
	for _, t := range names {
		b.printf("Successfully tagged %s\n", store.NormalizeName(t))
	}
	b.printf("%s\n", b.res.ImageID)
	return desc, nil
}

// Image formats of Options.Format.
const (
	FormatOCI    = "oci"
	FormatDocker = "docker"
)

// dockerLayers gives layer descriptors their Docker v2s2 media types.
func dockerLayers(in []ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	out := make([]ocispec.Descriptor, len(in))
	for i, d := range in {
		switch archive.OCILayerType(d.MediaType) {
		case ocispec.MediaTypeImageLayerGzip:
			d.MediaType = archive.DockerLayerGzip
		case ocispec.MediaTypeImageLayer:
			d.MediaType = archive.DockerLayerTar
		default:
			return nil, fmt.Errorf("--format docker: layer %s has media type %s, which Docker v2s2 cannot carry (use --format oci)", d.Digest, d.MediaType)
		}
		d.Annotations = nil
		out[i] = d
	}
	return out, nil
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// rootlessBuilder: not root, or root of a user namespace (the rootless
// build's copy, ReexecInPrivateMountNS). Tests replace it.
var rootlessBuilder = func() bool { return os.Geteuid() != 0 || overlay.InUserNS() }
