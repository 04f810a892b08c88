package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/myrun-org/myrun/libcontainer/criu/rpc"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/libcontainer/rootfs"
)

// CRIU refuses to dump a mount whose root it cannot find inside the
// container (a bind of a host path) unless it is declared external: on
// dump each such mountpoint is given a name written into the image, on
// restore each name is mapped to a host path to bind again. Restore fails
// with "No mapping for <id>:... mountpoint" for a name it is not given, so
// both sides derive the names from the same spec here.

// nullName is the image name of every mount of the host's /dev/null: the
// masked files and, in a user namespace, the /dev/null device bind.
const nullName = "/dev/null"

func cleanDest(d string) string { return filepath.Clean("/" + d) }

// criuDumpMounts is the dump's ext_mnt list: mountpoint -> image name.
// isFile says whether a masked path is a file in the running container
// (masked directories are a tmpfs CRIU dumps itself).
func criuDumpMounts(spec *rspec.Spec, isFile func(string) bool) []*rpc.ExtMountMap {
	var ext []*rpc.ExtMountMap
	seen := map[string]bool{}
	add := func(mnt, name string) {
		if !seen[mnt] {
			seen[mnt] = true
			ext = append(ext, &rpc.ExtMountMap{Key: rpc.String(mnt), Val: rpc.String(name)})
		}
	}
	for _, m := range spec.Mounts {
		if isBindMount(m) {
			d := cleanDest(m.Destination)
			add(d, d)
		}
	}
	if spec.Linux != nil {
		for _, p := range spec.Linux.MaskedPaths {
			if isFile(p) {
				add(cleanDest(p), nullName)
			}
		}
	}
	// Device nodes: binds of the host's in a user namespace, plain nodes
	// (not mounts, so the entries are unused) otherwise.
	for _, d := range rootfs.DevicePaths(spec.Linux) {
		add(d, d)
	}
	return ext
}

// criuRestoreMounts is the restore's ext_mnt list: image name -> host
// path, for every name criuDumpMounts can have written for this spec.
func criuRestoreMounts(spec *rspec.Spec, bundle string) ([]*rpc.ExtMountMap, error) {
	var ext []*rpc.ExtMountMap
	seen := map[string]bool{}
	add := func(name, src string) {
		if !seen[name] {
			seen[name] = true
			ext = append(ext, &rpc.ExtMountMap{Key: rpc.String(name), Val: rpc.String(src)})
		}
	}
	for i, m := range spec.Mounts {
		if !isBindMount(m) {
			continue
		}
		src := m.Source
		if !filepath.IsAbs(src) {
			src = filepath.Join(bundle, src)
		}
		if _, err := os.Stat(src); err != nil {
			return nil, fmt.Errorf("config.json: mounts[%d].source: %w", i, err)
		}
		add(cleanDest(m.Destination), src)
	}
	if spec.Linux != nil && len(spec.Linux.MaskedPaths) > 0 {
		add(nullName, "/dev/null")
	}
	for _, d := range rootfs.DevicePaths(spec.Linux) {
		add(d, d)
	}
	return ext, nil
}

// underTmpfs says whether dest lies below one of the spec's tmpfs mounts
// (CRIU restores a tmpfs with its content, mountpoints included).
func underTmpfs(spec *rspec.Spec, dest string) bool {
	for _, m := range spec.Mounts {
		if m.Type == "tmpfs" {
			t := cleanDest(m.Destination)
			if t == "/" || strings.HasPrefix(dest, t+"/") {
				return true
			}
		}
	}
	return false
}

// restoreMountpoints creates in the rootfs the destinations of the spec's
// mounts that do not exist yet, as create would have (CRIU mounts onto
// them but makes none): a file for a bind of a file, else a directory.
// Destinations below a tmpfs are left to CRIU.
func restoreMountpoints(spec *rspec.Spec, bundle, rootPath string) error {
	for i, m := range spec.Mounts {
		d := cleanDest(m.Destination)
		if d == "/" || underTmpfs(spec, d) {
			continue
		}
		file := false
		if isBindMount(m) {
			src := m.Source
			if !filepath.IsAbs(src) {
				src = filepath.Join(bundle, src)
			}
			fi, err := os.Stat(src)
			if err != nil {
				return fmt.Errorf("config.json: mounts[%d].source: %w", i, err)
			}
			file = !fi.IsDir()
		}
		dst, err := securejoin.SecureJoin(rootPath, d)
		if err != nil {
			return fmt.Errorf("config.json: mounts[%d].destination: %w", i, err)
		}
		if _, err := os.Lstat(dst); !errors.Is(err, os.ErrNotExist) {
			continue
		}
		if !file {
			err = os.MkdirAll(dst, 0o755)
		} else if err = os.MkdirAll(filepath.Dir(dst), 0o755); err == nil {
			var f *os.File
			if f, err = os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY|unix.O_NOFOLLOW, 0o644); err == nil {
				f.Close()
			}
		}
		if err != nil {
			return fmt.Errorf("config.json: mounts[%d].destination: %w", i, err)
		}
	}
	return nil
}
