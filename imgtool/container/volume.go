package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/myrun-org/myrun/imgtool/userns"
)

// Named volumes live in <store>/volumes/<name>: volume.json and _data,
// the directory containers mount (podman's local driver layout).
const volumesDir = "volumes"

// VolumeInfo is a volume's record (volume.json) and what inspect shows.
type VolumeInfo struct {
	Name       string            `json:"Name"`
	Driver     string            `json:"Driver"`
	Mountpoint string            `json:"Mountpoint"`
	CreatedAt  time.Time         `json:"CreatedAt"`
	Labels     map[string]string `json:"Labels"`
	// Populated: the first container's image content was copied in (or
	// the volume was used once), so later containers never copy again.
	Populated bool `json:"Populated"`
}

func (cs *Manager) volumeDir(name string) string {
	return filepath.Join(cs.Images.Root, volumesDir, name)
}

func (cs *Manager) lockVolumes() (func(), error) {
	if err := os.MkdirAll(filepath.Join(cs.Images.Root, volumesDir), 0o700); err != nil {
		return nil, err
	}
	return lockFile(filepath.Join(cs.Images.Root, volumesDir, ".lock"))
}

// ValidVolumeName is the rule for volume names (as container names).
func ValidVolumeName(n string) error {
	if !nameRE.MatchString(n) || len(n) > 128 {
		return fmt.Errorf("volume name %q: must match [a-zA-Z0-9][a-zA-Z0-9_.-]* (at most 128 characters)", n)
	}
	return nil
}

// CreateVolume makes a new empty volume; a taken name is an error.
func (cs *Manager) CreateVolume(name string, labels map[string]string) (*VolumeInfo, error) {
	unlock, err := cs.lockVolumes()
	if err != nil {
		return nil, err
	}
	defer unlock()
	return cs.createVolumeLocked(name, labels)
}

func (cs *Manager) createVolumeLocked(name string, labels map[string]string) (*VolumeInfo, error) {
	if name == "" {
		name = newID()
	}
	if err := ValidVolumeName(name); err != nil {
		return nil, err
	}
	dir := cs.volumeDir(name)
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("volume name %q is already in use", name)
		}
		return nil, err
	}
	if labels == nil {
		labels = map[string]string{}
	}
	v := &VolumeInfo{Name: name, Driver: "local", Mountpoint: filepath.Join(dir, "_data"), CreatedAt: time.Now().UTC(), Labels: labels}
	if err := os.Mkdir(v.Mountpoint, 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := cs.saveVolume(v); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return v, nil
}

func (cs *Manager) saveVolume(v *VolumeInfo) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return store.WriteFileAtomic(filepath.Join(cs.volumeDir(v.Name), "volume.json"), b, 0o600)
}

// Volume reads one volume's record.
func (cs *Manager) Volume(name string) (*VolumeInfo, error) {
	if err := ValidVolumeName(name); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(cs.volumeDir(name), "volume.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no such volume %q", name)
	}
	if err != nil {
		return nil, err
	}
	var v VolumeInfo
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("volume %s: volume.json: %w", name, err)
	}
	return &v, nil
}

// Volumes lists every volume by name.
func (cs *Manager) Volumes() ([]*VolumeInfo, error) {
	ents, err := os.ReadDir(filepath.Join(cs.Images.Root, volumesDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*VolumeInfo
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		v, err := cs.Volume(e.Name())
		if err != nil {
			continue // half made (a crash between mkdir and volume.json)
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// VolumeUsers are the containers whose config mounts the volume.
func (cs *Manager) VolumeUsers(v *VolumeInfo) ([]*Record, error) {
	all, err := cs.List()
	if err != nil {
		return nil, err
	}
	var out []*Record
	for _, r := range all {
		s, err := readSpec(r.Bundle)
		if err != nil {
			continue
		}
		for _, m := range s.Mounts {
			if m.Source == v.Mountpoint {
				out = append(out, r)
				break
			}
		}
	}
	return out, nil
}

// RemoveVolume deletes a volume. One that containers use is refused,
// unless force, which removes those containers first (podman's -f).
func (cs *Manager) RemoveVolume(name string, force bool) error {
	unlock, err := cs.lockVolumes()
	if err != nil {
		return err
	}
	defer unlock()
	v, err := cs.Volume(name)
	if err != nil {
		return err
	}
	users, err := cs.VolumeUsers(v)
	if err != nil {
		return err
	}
	if len(users) > 0 && !force {
		var n []string
		for _, r := range users {
			n = append(n, r.Name)
		}
		return fmt.Errorf("volume %s is in use by container(s) %s: remove them first, or use --force", name, strings.Join(n, ", "))
	}
	for _, r := range users {
		if err := cs.Remove(r.ID, RemoveOptions{Force: true}); err != nil {
			return fmt.Errorf("removing container %s that uses volume %s: %w", r.Name, name, err)
		}
	}
	return removeVolumeDir(cs.volumeDir(name))
}

// PruneVolumes removes every volume no container uses; it returns their names.
func (cs *Manager) PruneVolumes() ([]string, error) {
	vs, err := cs.Volumes()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, v := range vs {
		users, err := cs.VolumeUsers(v)
		if err != nil {
			return out, err
		}
		if len(users) > 0 {
			continue
		}
		if err := cs.RemoveVolume(v.Name, false); err != nil {
			return out, err
		}
		out = append(out, v.Name)
	}
	return out, nil
}

// prepareVolumes gives each named -v its source: the volume, made on
// first mention, and filled from the image at the mount point the first
// time a container uses it, as podman does (owners, modes, links kept).
func (cs *Manager) prepareVolumes(vols []Volume, rootfs string, r *Record) error {
	unlock, err := cs.lockVolumes()
	if err != nil {
		return err
	}
	defer unlock()
	for i := range vols {
		vol := &vols[i]
		if vol.Name == "" {
			continue
		}
		v, err := cs.Volume(vol.Name)
		if err != nil {
			if v, err = cs.createVolumeLocked(vol.Name, nil); err != nil {
				return fmt.Errorf("-v %s:%s: %w", vol.Name, vol.Dest, err)
			}
		}
		vol.Source = v.Mountpoint
		if v.Populated || vol.NoCopy {
			continue
		}
		if err := fillVolume(r, rootfs, vol.Dest, v.Mountpoint); err != nil {
			return fmt.Errorf("-v %s:%s: copying the image's content in: %w", vol.Name, vol.Dest, err)
		}
		v.Populated = true
		if err := cs.saveVolume(v); err != nil {
			return err
		}
	}
	return nil
}

// fillVolume copies the image's directory at dest into an empty volume.
// With subordinate ids it runs inside the container's user namespace:
// the image's owners are ids of that namespace, and the caller can
// neither read their 0700 directories nor chown to them outside it.
func fillVolume(r *Record, rootfs, dest, data string) error {
	if multi(r) {
		abs := func(p string) (string, error) { return filepath.Abs(p) }
		rootfs, err := abs(rootfs)
		if err != nil {
			return err
		}
		if data, err = abs(data); err != nil {
			return err
		}
		return userns.Run(*r.IDMaps, UsernsCommand, "copyup", rootfs, dest, data)
	}
	return copyUpFrom(rootfs, dest, data)
}

// copyUpFrom resolves dest in rootfs and copies it into data when it is
// a directory.
func copyUpFrom(rootfs, dest, data string) error {
	src, err := securejoin.SecureJoin(rootfs, dest)
	if err != nil {
		return err
	}
	if st, err := os.Stat(src); err != nil || !st.IsDir() {
		return nil // nothing in the image to fill it with
	}
	return copyUp(src, data)
}

// removeVolumeDir deletes a volume's directory; a rootless caller with
// subordinate ids deletes its data inside the user namespace first (the
// files belong to those ids).
func removeVolumeDir(dir string) error {
	if os.Geteuid() != 0 {
		if m, _, err := userns.ForCaller(); err == nil && m.Multi() {
			if _, err := os.Lstat(filepath.Join(dir, "_data")); err == nil {
				abs, err := filepath.Abs(filepath.Join(dir, "_data"))
				if err != nil {
					return err
				}
				if err := userns.Run(m, UsernsCommand, "rm", abs); err != nil {
					return err
				}
			}
		}
	}
	return os.RemoveAll(dir)
}

// copyUp copies the tree at src (a directory inside a rootfs) into dst,
// an empty volume; symlinks are copied as links, never followed.
func copyUp(src, dst string) error {
	if ents, err := os.ReadDir(dst); err != nil || len(ents) > 0 {
		return err // a volume with content keeps it
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		st, err := os.Lstat(p)
		if err != nil {
			return err
		}
		sys, ok := st.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: no stat data", p)
		}
		switch {
		case st.IsDir():
			if rel != "." {
				if err := os.Mkdir(target, 0o700); err != nil {
					return err
				}
			}
		case st.Mode()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := os.Symlink(l, target); err != nil {
				return err
			}
		case st.Mode().IsRegular():
			if err := copyFile(p, target); err != nil {
				return err
			}
		default:
			if err := unix.Mknod(target, sys.Mode, int(sys.Rdev)); err != nil {
				return err
			}
		}
		if err := os.Lchown(target, int(sys.Uid), int(sys.Gid)); err != nil {
			return err
		}
		if st.Mode()&fs.ModeSymlink == 0 {
			if err := os.Chmod(target, st.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
				return err
			}
		}
		ts := []unix.Timespec{unix.NsecToTimespec(sys.Atim.Nano()), unix.NsecToTimespec(sys.Mtim.Nano())}
		return unix.UtimesNanoAt(unix.AT_FDCWD, target, ts, unix.AT_SYMLINK_NOFOLLOW)
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
