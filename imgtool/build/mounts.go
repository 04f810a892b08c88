package build

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"sync"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/opencontainers/go-digest"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Secret is a build secret (build --secret id=ID,src=FILE|env=VAR).
type Secret struct {
	File string // read at RUN time
	Env  string // or the value of this variable of myimg's environment
}

// mountPlan is one RUN --mount, checked and keyed before the step runs;
// it becomes a runtime mount in the step's container.
type mountPlan struct {
	m      instructions.Mount
	id     string // cache, secret or ssh id
	target string // absolute, in the container
	root   string // bind/cache from: the context, stage or image root
	src    string // bind/cache: host path of the source in root
	mode   os.FileMode
	uid    int
	gid    int
}

// planMounts resolves a RUN's --mount flags: defaults, sources, errors
// for what cannot work; key is what the mounts add to the cache key (the
// specs, and for a bind from the context the content's digest; never a
// secret's or a cache's content).
func (r *stageRun) planMounts(c *instructions.RunCommand) (plans []*mountPlan, key []string, err error) {
	env := r.env()
	if err := c.Expand(func(w string) (string, error) {
		s, _, err := r.b.lex.ProcessWord(w, shell.EnvsFromSlice(env))
		return s, err
	}); err != nil {
		return nil, nil, err
	}
	sshN := 0
	firstSharing := map[string]instructions.ShareMode{} // cache id: its first mount's
	for _, m := range instructions.GetMounts(c) {
		p := &mountPlan{m: *m, target: m.Target}
		if p.target != "" && !path.IsAbs(p.target) {
			p.target = path.Join("/", r.img.Config.WorkingDir, p.target)
		}
		what := fmt.Sprintf("--mount type=%s", m.Type)
		// BuildKit parses env= for every type and rw for secrets and ssh
		// sockets, and then uses neither.
		if m.Env != nil && m.Type != instructions.MountTypeSecret {
			return nil, nil, fmt.Errorf("%s: env= applies to secret mounts only", what)
		}
		if !m.ReadOnly && (m.Type == instructions.MountTypeSecret || m.Type == instructions.MountTypeSSH) {
			return nil, nil, fmt.Errorf("%s: rw does not apply (secrets and ssh sockets are mounted read-only)", what)
		}
		switch m.Type {
		case instructions.MountTypeTmpfs:
			if m.From != "" || m.Source != "" || m.CacheID != "" {
				return nil, nil, fmt.Errorf("%s: from, source and id do not apply to tmpfs", what)
			}
		case instructions.MountTypeBind, instructions.MountTypeCache:
			k, err := r.planBindCache(p, what, firstSharing)
			if err != nil {
				return nil, nil, err
			}
			key = append(key, k...)
		case instructions.MountTypeSecret:
			p.id = m.CacheID
			if p.id == "" {
				p.id = m.Source
			}
			if p.id == "" {
				p.id = path.Base(m.Target)
			}
			if p.target == "" && m.Env == nil {
				p.target = "/run/secrets/" + p.id
			}
			p.mode, p.uid, p.gid = fileInfo(m, 0o400)
			if _, ok := r.b.o.Secrets[p.id]; !ok && m.Required {
				return nil, nil, fmt.Errorf("%s: secret %q is required but was not given (build --secret id=%s,src=FILE)", what, p.id, p.id)
			}
		case instructions.MountTypeSSH:
			if m.From != "" || m.Source != "" {
				return nil, nil, fmt.Errorf("%s: from and source do not apply to ssh", what)
			}
			p.id = m.CacheID
			if p.id == "" {
				p.id = "default"
			}
			if p.target == "" {
				sshN++
				p.target = "/run/buildkit/ssh_agent." + strconv.Itoa(sshN-1)
			}
			p.mode, p.uid, p.gid = fileInfo(m, 0o600)
			if _, ok := r.b.o.SSH[p.id]; !ok && m.Required {
				return nil, nil, fmt.Errorf("%s: ssh %q is required but was not given (build --ssh %s=SOCKET)", what, p.id, p.id)
			}
		default:
			return nil, nil, fmt.Errorf("%s: unknown mount type", what)
		}
		if p.target == "" && !(m.Type == instructions.MountTypeSecret && m.Env != nil) {
			return nil, nil, fmt.Errorf("%s: target is required", what)
		}
		key = append(key, p.keySpec())
		plans = append(plans, p)
	}
	return plans, key, nil
}

// sharingOf is a cache mount's sharing, shared by default.
func sharingOf(m *instructions.Mount) instructions.ShareMode {
	if m.CacheSharing == "" {
		return instructions.MountSharingShared
	}
	return m.CacheSharing
}

// planBindCache resolves a bind or cache mount's source: in the context,
// a stage or an image (from); it returns what the mount adds to the cache
// key besides its spec. firstSharing holds the sharing of each cache id's
// first mount in this RUN.
func (r *stageRun) planBindCache(p *mountPlan, what string, firstSharing map[string]instructions.ShareMode) (key []string, err error) {
	m := &p.m
	if m.Type == instructions.MountTypeBind && m.CacheID != "" {
		return nil, fmt.Errorf("%s: id applies to cache, secret and ssh mounts", what)
	}
	if m.Type == instructions.MountTypeCache || m.From != "" {
		if m.From != "" || m.Source != "" {
			root, inContext, fromKey, err := r.copyRoot(&copySpec{from: m.From})
			if err != nil {
				return nil, fmt.Errorf("%s: %w", what, err)
			}
			p.root = root
			if inContext {
				fromKey = "context"
			}
			key = append(key, "from "+fromKey)
		}
	} else {
		p.root = r.b.o.ContextDir
	}
	if p.root != "" {
		if p.src, err = securejoin.SecureJoin(p.root, m.Source); err != nil {
			return nil, fmt.Errorf("%s: source %q: %w", what, m.Source, err)
		}
		st, err := os.Stat(p.src)
		if err != nil {
			return nil, fmt.Errorf("%s: source %q: %w", what, m.Source, err)
		}
		if m.Type == instructions.MountTypeCache && !st.IsDir() {
			return nil, fmt.Errorf("%s: source %q is not a directory", what, m.Source)
		}
		if m.From == "" {
			d, err := r.contextDigest(p.src, st.IsDir())
			if err != nil {
				return nil, fmt.Errorf("%s: source %q: %w", what, m.Source, err)
			}
			key = append(key, "context "+string(d))
		}
	}
	if m.Type == instructions.MountTypeCache {
		p.id = m.CacheID
		if p.id == "" {
			p.id = p.target
		}
		p.mode, p.uid, p.gid = fileInfo(m, 0o755)
		// Each mount locks the cache itself: the same id again in
		// this RUN works when it is private (a throwaway copy) or
		// both are shared; any other pair would wait for the
		// first mount's lock forever.
		sh := sharingOf(m)
		if first, again := firstSharing[p.id]; again {
			if sh != instructions.MountSharingPrivate && (sh != instructions.MountSharingShared || first != instructions.MountSharingShared) {
				return nil, fmt.Errorf("%s: cache id %q is mounted twice in this RUN (sharing=%s, then sharing=%s)", what, p.id, first, sh)
			}
		} else {
			firstSharing[p.id] = sh
		}
	}
	return key, nil
}

// keySpec is what the mount's spec adds to the cache key (never a secret's
// or a cache's content).
func (p *mountPlan) keySpec() string {
	m := &p.m
	spec, _ := json.Marshal(struct {
		Type, ID, Target, Source, Sharing string
		RO                                bool
		Size                              int64
		Mode                              os.FileMode
		UID, GID                          int
		Env                               *string
	}{string(m.Type), p.id, p.target, m.Source, string(m.CacheSharing), m.ReadOnly, m.SizeLimit, p.mode, p.uid, p.gid, m.Env})
	return string(spec)
}

func fileInfo(m *instructions.Mount, mode os.FileMode) (os.FileMode, int, int) {
	uid, gid := 0, 0
	if m.Mode != nil {
		mode = os.FileMode(*m.Mode) & os.ModePerm
	}
	if m.UID != nil {
		uid = int(*m.UID)
	}
	if m.GID != nil {
		gid = int(*m.GID)
	}
	return mode, uid, gid
}

// contextDigest digests a file or directory of the build context (the
// same scan COPY uses, .containerignore applied).
func (r *stageRun) contextDigest(p string, dir bool) (digest.Digest, error) {
	rel, _ := filepath.Rel(r.b.o.ContextDir, p)
	sc, err := r.b.scanSources([]source{{abs: p, name: filepath.Base(p), rel: rel, dir: dir}}, true)
	if err != nil {
		return "", err
	}
	if d, ok := r.b.cachedInputs(sc); ok {
		return d, nil
	}
	return r.b.contentInputs(sc)
}

// secretMount gives a RUN the secret of p: in its environment (env=)
// and as a file at the target (mode, uid, gid from the flag), or nothing
// when it was not given (then it was not required, as BuildKit). The file
// goes with undo.
func (b *builder) secretMount(w *workspace, i int, p *mountPlan, what string, undo *[]func()) (*rspec.Mount, []string, error) {
	m := p.m
	val, ok, err := b.secretValue(p.id)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	if !ok {
		return nil, nil, nil
	}
	var env []string
	if m.Env != nil {
		name := *m.Env
		if name == "" {
			name = p.id
		}
		env = append(env, name+"="+string(val))
	}
	if p.target == "" {
		return nil, env, nil
	}
	f := filepath.Join(w.dir, fmt.Sprintf("secret%d", i))
	*undo = append(*undo, func() { os.Remove(f) })
	if err := os.WriteFile(f, val, 0o400); err != nil {
		return nil, nil, err
	}
	if err := os.Chown(f, p.uid, p.gid); err != nil {
		return nil, nil, err
	}
	if err := os.Chmod(f, p.mode); err != nil {
		return nil, nil, err
	}
	return &rspec.Mount{Destination: p.target, Type: "bind", Source: f, Options: []string{"bind", "ro", "nosuid", "nodev", "noexec"}}, env, nil
}

// setupMounts makes the host side of each planned mount for one RUN in
// workspace w: the runtime mounts, env additions, and a cleanup to run
// after the container is gone.
func (b *builder) setupMounts(w *workspace, plans []*mountPlan) (mounts []rspec.Mount, env []string, cleanup func(), err error) {
	var undo []func()
	cleanup = func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	defer func() {
		if err != nil {
			cleanup()
		}
	}()
	for i, p := range plans {
		m := p.m
		ro := []string{"rbind", "rw"}
		if m.ReadOnly {
			ro = []string{"rbind", "ro"}
		}
		what := fmt.Sprintf("--mount type=%s,target=%s", m.Type, p.target)
		switch m.Type {
		case instructions.MountTypeTmpfs:
			opts := []string{"nosuid", "nodev"}
			if m.SizeLimit > 0 {
				opts = append(opts, "size="+strconv.FormatInt(m.SizeLimit, 10))
			}
			if m.ReadOnly {
				opts = append(opts, "ro")
			}
			mounts = append(mounts, rspec.Mount{Destination: p.target, Type: "tmpfs", Source: "tmpfs", Options: opts})
		case instructions.MountTypeBind:
			src := p.src
			if !m.ReadOnly {
				// rw: the RUN may write, but writes are discarded.
				if src, err = b.scratchCopy(w, i, p.src, &undo); err != nil {
					return nil, nil, cleanup, fmt.Errorf("%s: %w", what, err)
				}
			}
			mounts = append(mounts, rspec.Mount{Destination: p.target, Type: "bind", Source: src, Options: ro})
		case instructions.MountTypeCache:
			dir, release, err := b.cacheMount(w, i, p)
			if err != nil {
				return nil, nil, cleanup, fmt.Errorf("%s: %w", what, err)
			}
			undo = append(undo, release)
			mounts = append(mounts, rspec.Mount{Destination: p.target, Type: "bind", Source: dir, Options: ro})
		case instructions.MountTypeSecret:
			mnt, senv, err := b.secretMount(w, i, p, what, &undo)
			if err != nil {
				return nil, nil, cleanup, err
			}
			env = append(env, senv...)
			if mnt != nil {
				mounts = append(mounts, *mnt)
			}
		case instructions.MountTypeSSH:
			sock, ok := b.o.SSH[p.id]
			if !ok {
				continue
			}
			proxy, stop, err := sshProxy(filepath.Join(w.dir, fmt.Sprintf("ssh%d.sock", i)), sock, p)
			if err != nil {
				return nil, nil, cleanup, fmt.Errorf("%s: %w", what, err)
			}
			undo = append(undo, stop)
			mounts = append(mounts, rspec.Mount{Destination: p.target, Type: "bind", Source: proxy, Options: []string{"bind", "ro", "nosuid", "nodev", "noexec"}})
			if p.id == "default" {
				env = append(env, "SSH_AUTH_SOCK="+p.target)
			}
		}
	}
	return mounts, env, cleanup, nil
}

// scratchCopy gives a rw bind a view of src whose writes are thrown
// away: an overlay for a directory, a copy for a file.
func (b *builder) scratchCopy(w *workspace, i int, src string, undo *[]func()) (string, error) {
	base := filepath.Join(w.dir, fmt.Sprintf("bind%d", i))
	st, err := os.Stat(src)
	if err != nil {
		return "", err
	}
	if !st.IsDir() {
		if err := os.MkdirAll(base, 0o700); err != nil {
			return "", err
		}
		dst := filepath.Join(base, "file")
		if out, err := exec.Command("cp", "-a", "--", src, dst).CombinedOutput(); err != nil {
			return "", fmt.Errorf("copy: %v: %s", err, out)
		}
		return dst, nil
	}
	return b.scratchDir(src, base, undo)
}

// cacheMeta is what a cache mount directory was created with.
type cacheMeta struct {
	ID   string      `json:"id"`
	Mode os.FileMode `json:"mode"`
	UID  int         `json:"uid"`
	GID  int         `json:"gid"`
}

// cacheMount returns the directory of a cache mount, creating it on
// first use (from its source, with its mode and owner) under the store's
// cache-mounts/, and locks it per sharing: shared (a shared flock, so
// prune waits), locked (exclusive: other builds wait), private (exclusive
// when free, else a throwaway directory for this RUN).
func (b *builder) cacheMount(w *workspace, i int, p *mountPlan) (dir string, release func(), err error) {
	base := filepath.Join(b.s.Root, store.CacheMountsDir)
	if err := os.MkdirAll(base, 0o700); err != nil {
		return "", nil, err
	}
	sum := sha256.Sum256([]byte(p.id))
	name := hex.EncodeToString(sum[:])
	dir = filepath.Join(base, name)
	lf, err := os.OpenFile(dir+".lock", os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return "", nil, err
	}
	release = func() { lf.Close() }
	how := unix.LOCK_SH
	switch p.m.CacheSharing {
	case instructions.MountSharingLocked:
		how = unix.LOCK_EX
	case instructions.MountSharingPrivate:
		how = unix.LOCK_EX | unix.LOCK_NB
	}
	if err := unix.Flock(int(lf.Fd()), how); errors.Is(err, unix.EWOULDBLOCK) {
		// private and in use: a fresh one for this RUN only.
		lf.Close()
		dir = filepath.Join(w.dir, fmt.Sprintf("cache%d", i))
		if err := b.initCache(dir, p); err != nil {
			return "", nil, err
		}
		return dir, func() { os.RemoveAll(dir) }, nil
	} else if err != nil {
		lf.Close()
		return "", nil, err
	}
	want := cacheMeta{ID: p.id, Mode: p.mode, UID: p.uid, GID: p.gid}
	if data, err := os.ReadFile(dir + ".json"); err == nil {
		var have cacheMeta
		if json.Unmarshal(data, &have) == nil && have != want {
			release()
			return "", nil, fmt.Errorf("cache id %q exists with mode=%o,uid=%d,gid=%d; this mount asks mode=%o,uid=%d,gid=%d (use another id, or drop the cache with myimg prune --cache)",
				p.id, have.Mode, have.UID, have.GID, p.mode, p.uid, p.gid)
		}
	}
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		// First use: build it aside, then rename (two shared users may race).
		tmp, err := os.MkdirTemp(base, ".new-")
		if err != nil {
			release()
			return "", nil, err
		}
		if err := b.initCache(tmp, p); err != nil {
			os.RemoveAll(tmp)
			release()
			return "", nil, err
		}
		data, _ := json.Marshal(want)
		if err := os.WriteFile(dir+".json", data, 0o600); err != nil {
			os.RemoveAll(tmp)
			release()
			return "", nil, err
		}
		if err := os.Rename(tmp, dir); err != nil {
			os.RemoveAll(tmp)
			if _, serr := os.Stat(dir); serr != nil {
				release()
				return "", nil, err
			}
		}
	}
	return dir, release, nil
}

func (b *builder) initCache(dir string, p *mountPlan) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if p.src != "" {
		if out, err := exec.Command("cp", "-a", "--", p.src+"/.", dir).CombinedOutput(); err != nil {
			return fmt.Errorf("copying source %q: %v: %s", p.m.Source, err, out)
		}
	}
	if err := os.Chown(dir, p.uid, p.gid); err != nil {
		return err
	}
	return os.Chmod(dir, p.mode)
}

// secretValue reads a build secret; ok is false when it was not given.
func (b *builder) secretValue(id string) ([]byte, bool, error) {
	s, ok := b.o.Secrets[id]
	if !ok {
		return nil, false, nil
	}
	if s.File != "" {
		v, err := os.ReadFile(s.File)
		if err != nil {
			return nil, false, fmt.Errorf("secret %q: %w", id, err)
		}
		return v, true, nil
	}
	v, set := os.LookupEnv(s.Env)
	if !set {
		return nil, false, fmt.Errorf("secret %q: environment variable %s is not set", id, s.Env)
	}
	return []byte(v), true, nil
}

// sshProxy listens on a socket owned and moded as the mount asks and
// forwards each connection to the agent socket, so the host's socket is
// neither exposed nor re-permissioned.
func sshProxy(path, agent string, p *mountPlan) (string, func(), error) {
	if _, err := os.Stat(agent); err != nil {
		return "", nil, fmt.Errorf("ssh agent socket: %w", err)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return "", nil, err
	}
	err = os.Chown(path, p.uid, p.gid)
	if err == nil {
		err = os.Chmod(path, p.mode)
	}
	if err != nil {
		l.Close()
		return "", nil, err
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				a, err := net.Dial("unix", agent)
				if err != nil {
					return
				}
				defer a.Close()
				go func() { io.Copy(a, c); a.(*net.UnixConn).CloseWrite() }()
				io.Copy(c, a)
			}()
		}
	}()
	return path, func() { l.Close(); wg.Wait(); os.Remove(path) }, nil
}
