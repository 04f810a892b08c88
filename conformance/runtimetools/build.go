package main

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

const (
	runtimeToolsModule = "github.com/opencontainers/runtime-tools"
	// Pinned to what go.mod requires; override with RUNTIME_TOOLS_VERSION.
	runtimeToolsVersion = "v0.9.1-0.20251114084447-edf4cb3d2116"
)

// suite is a built copy of the validation programs.
type suite struct {
	SrcDir string // writable copy of the module
	BinDir string // programs, runtimetest and the rootfs tarball: the tests' cwd
}

// goEnv is the environment for go commands: no workspace, module mode, and no
// VCS stamping (the copy sits inside our git checkout).
func goEnv() []string {
	env := filterEnv(os.Environ(), "GOWORK", "GO111MODULE", "GOFLAGS")
	return append(env, "GOWORK=off", "GO111MODULE=on", "GOFLAGS=-buildvcs=false")
}

func goTool() string {
	if g := os.Getenv("GO"); g != "" {
		return g
	}
	return "go"
}

func suiteDirs(cacheDir, version string) (suite, error) {
	base, err := filepath.Abs(filepath.Join(cacheDir, "runtime-tools@"+version))
	if err != nil {
		return suite{}, err
	}
	return suite{SrcDir: filepath.Join(base, "src"), BinDir: filepath.Join(base, "bin")}, nil
}

// prebuiltSuite is a suite built elsewhere (-build-only on the host, then
// copied into the VM guest, which has no Go toolchain): used as is when its
// stamp names the same runtime-tools version.
func prebuiltSuite(cacheDir, version string, _ io.Writer) (suite, error) {
	s, err := suiteDirs(cacheDir, version)
	if err != nil {
		return s, err
	}
	b, err := os.ReadFile(filepath.Join(s.BinDir, ".stamp"))
	if err != nil {
		return s, fmt.Errorf("-prebuilt: no built suite in %s: %w", s.BinDir, err)
	}
	if f := strings.Fields(string(b)); len(f) == 0 || f[0] != version {
		return s, fmt.Errorf("-prebuilt: %s holds runtime-tools %q, want %s", s.BinDir, strings.TrimSpace(string(b)), version)
	}
	return s, nil
}

// ensureSuite builds the programs once per (version, Go version) in cacheDir.
func ensureSuite(cacheDir, version string, log io.Writer) (suite, error) {
	s, err := suiteDirs(cacheDir, version)
	if err != nil {
		return s, err
	}
	base := filepath.Dir(s.BinDir)
	gover, err := runGo("", "env", "GOVERSION")
	if err != nil {
		return s, err
	}
	stamp := version + " " + strings.TrimSpace(gover) + " " + runtime.GOARCH + "\n"
	if b, err := os.ReadFile(filepath.Join(s.BinDir, ".stamp")); err == nil && string(b) == stamp {
		return s, nil
	}
	fmt.Fprintf(log, "building runtime-tools %s validation programs in %s\n", version, base)
	if err := os.MkdirAll(base, 0o755); err != nil {
		return s, err
	}
	if err := fetchSource(version, s.SrcDir); err != nil {
		return s, err
	}
	tmpBin := s.BinDir + ".tmp"
	if err := os.RemoveAll(tmpBin); err != nil {
		return s, err
	}
	if err := os.MkdirAll(tmpBin, 0o755); err != nil {
		return s, err
	}
	// -mod=readonly: upstream's go.mod and go.sum decide every dependency.
	if _, err := runGo(s.SrcDir, "build", "-mod=readonly", "-trimpath", "-o", tmpBin+"/", "./validation/..."); err != nil {
		return s, err
	}
	// runtimetest runs inside the busybox rootfs: it must be static.
	if _, err := runGoEnv(s.SrcDir, []string{"CGO_ENABLED=0"}, "build", "-mod=readonly", "-trimpath",
		"-tags", "netgo osusergo", "-ldflags", "-extldflags -static", "-o", filepath.Join(tmpBin, "runtimetest"), "./cmd/runtimetest"); err != nil {
		return s, err
	}
	tarball := "rootfs-" + runtime.GOARCH + ".tar.gz"
	if err := copyFile(filepath.Join(s.SrcDir, tarball), filepath.Join(tmpBin, tarball), 0o644); err != nil {
		return s, err
	}
	if err := os.WriteFile(filepath.Join(tmpBin, ".stamp"), []byte(stamp), 0o644); err != nil {
		return s, err
	}
	if err := os.RemoveAll(s.BinDir); err != nil {
		return s, err
	}
	return s, os.Rename(tmpBin, s.BinDir)
}

// fetchSource downloads the module through the module proxy and copies it to
// a writable dir. The module zip's vendor/ holds only modules.txt, which
// would switch go to vendor mode, so it is dropped.
func fetchSource(version, dst string) error {
	out, err := runGo(os.TempDir(), "mod", "download", "-json", runtimeToolsModule+"@"+version)
	if err != nil {
		return err
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		return fmt.Errorf("go mod download: %v", err)
	}
	if info.Error != "" || info.Dir == "" {
		return fmt.Errorf("go mod download %s@%s: %s", runtimeToolsModule, version, info.Error)
	}
	tmp := dst + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := copyTree(info.Dir, tmp); err != nil {
		return err
	}
	if err := os.RemoveAll(filepath.Join(tmp, "vendor")); err != nil {
		return err
	}
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

func runGo(dir string, args ...string) (string, error) {
	return runGoEnv(dir, nil, args...)
}

func runGoEnv(dir string, extra []string, args ...string) (string, error) {
	cmd := exec.Command(goTool(), args...)
	cmd.Dir = dir
	cmd.Env = append(goEnv(), extra...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}

// copyTree copies regular files and dirs (module zips hold nothing else),
// making them writable: the module cache is read-only.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			return copyFile(p, target, 0o644)
		}
		return nil
	})
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// filterEnv drops the named variables from env.
func filterEnv(env []string, names ...string) []string {
	var out []string
next:
	for _, kv := range env {
		for _, n := range names {
			if strings.HasPrefix(kv, n+"=") {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}
