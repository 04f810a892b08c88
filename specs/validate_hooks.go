package specs

import (
	"os"
	"path/filepath"

	securejoin "github.com/cyphar/filepath-securejoin"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func checkHooks(p *problems, s *rspec.Spec, bundle string) {
	h := s.Hooks
	if h == nil {
		return
	}
	rootfs := RootfsPath(s, bundle)
	checkHookList(p, "hooks.prestart", h.Prestart, "") //nolint:staticcheck // deprecated but still honoured
	checkHookList(p, "hooks.createRuntime", h.CreateRuntime, "")
	checkHookList(p, "hooks.createContainer", h.CreateContainer, "")
	// startContainer runs in the container and its path resolves there.
	checkHookList(p, "hooks.startContainer", h.StartContainer, rootfs)
	checkHookList(p, "hooks.poststart", h.Poststart, "")
	checkHookList(p, "hooks.poststop", h.Poststop, "")
}

// checkHookList checks each hook; inRoot, when set, is the rootfs the path
// must be resolved in (safely: the rootfs is untrusted).
func checkHookList(p *problems, field string, hooks []rspec.Hook, inRoot string) {
	for i, hk := range hooks {
		f := idx(field, i)
		if hk.Timeout != nil && *hk.Timeout <= 0 {
			p.add(f+".timeout", "must be greater than zero, got %d", *hk.Timeout)
		}
		for j, e := range hk.Env {
			checkEnv(p, idx(f+".env", j), e)
		}
		if !filepath.IsAbs(hk.Path) {
			p.add(f+".path", "must be an absolute path, got %q", hk.Path)
			continue
		}
		path := hk.Path
		if inRoot != "" {
			if _, err := os.Stat(inRoot); err != nil {
				continue // root.path already reported
			}
			jp, err := securejoin.SecureJoin(inRoot, hk.Path)
			if err != nil {
				p.add(f+".path", "%v", err)
				continue
			}
			path = jp
		}
		fi, err := os.Stat(path)
		switch {
		case os.IsNotExist(err):
			p.add(f+".path", "does not exist: %s", hk.Path)
		case err != nil:
			p.add(f+".path", "%v", err)
		case !fi.Mode().IsRegular():
			p.add(f+".path", "not a regular file: %s", hk.Path)
		case fi.Mode().Perm()&0o111 == 0:
			p.add(f+".path", "not executable: %s", hk.Path)
		}
	}
}
