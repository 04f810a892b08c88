package store

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/internal/procstat"
)

// ownerFile marks an ingest directory with the process that owns it, so a
// later command can tell the leftovers of a killed one (whose overlay
// mounts would otherwise stay) from the work of a running one.
const ownerFile = ".owner"

func selfStartTime() string {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return ""
	}
	return startTimeOf(b)
}

// startTimeOf returns field 22 of a /proc/<pid>/stat line.
func startTimeOf(stat []byte) string {
	st, _, err := procstat.Parse(stat)
	if err != nil {
		return ""
	}
	return strconv.FormatUint(st, 10)
}

func markOwner(dir string) error {
	return os.WriteFile(filepath.Join(dir, ownerFile), []byte(fmt.Sprintf("%d %s", os.Getpid(), selfStartTime())), 0o600)
}

// ownerTag names this process in temp file names ("<pid>.<starttime>"),
// where a marker file cannot go.
var ownerTag = sync.OnceValue(func() string { return fmt.Sprintf("%d.%s", os.Getpid(), selfStartTime()) })

// alive reports whether pid still runs with the given start time. A
// zombie does not count: a killed owner whose parent died too waits for a
// busy or slow init to reap it.
func alive(pid, start string) bool {
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return false
	}
	return startTimeOf(stat) == start && !zombie(stat)
}

// zombie reads the state field of a /proc/<pid>/stat line.
func zombie(stat []byte) bool {
	_, state, err := procstat.Parse(stat)
	return err == nil && procstat.Exited(state)
}

// tempFileOwnerAlive reads the owner from a "blob-<pid>.<start>-..." name;
// names without one are not ours to judge.
func tempFileOwnerAlive(name string) bool {
	rest, ok := strings.CutPrefix(name, blobTempPrefix)
	if !ok {
		return true
	}
	tag, _, ok := strings.Cut(rest, "-")
	pid, start, ok2 := strings.Cut(tag, ".")
	if !ok || !ok2 || pid == "" || start == "" {
		return true
	}
	return alive(pid, start)
}

// ownerAlive is false only when the recorded owner is certainly gone.
func ownerAlive(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, ownerFile))
	if err != nil {
		return true // not ours to judge (no marker yet, or not a directory)
	}
	pid, start, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
	return alive(pid, start)
}

// unmountUnder lazily unmounts every mount at or below dir, deepest first.
func unmountUnder(dir string) error {
	mounts, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		return err
	}
	sort.Slice(mounts, func(i, j int) bool { return len(mounts[i].Mountpoint) > len(mounts[j].Mountpoint) })
	for _, m := range mounts {
		if err := unix.Unmount(m.Mountpoint, unix.MNT_DETACH); err != nil && err != unix.EINVAL && err != unix.ENOENT {
			return fmt.Errorf("unmounting %s: %w", m.Mountpoint, err)
		}
	}
	return nil
}

// CleanStaleIngest removes ingest directories whose owning process died
// (a build killed mid-RUN leaves its overlay mounted there), unmounting
// first. Running commands' directories are left alone.
// beforeRemove, when set, runs first on each stale directory (the build
// uses it to delete the RUN containers a killed build left in there).
func (s *Store) CleanStaleIngest(beforeRemove func(dir string)) error {
	root := filepath.Join(s.Root, ingestDir)
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil
	}
	for _, e := range ents {
		dir := filepath.Join(root, e.Name())
		if !e.IsDir() || ownerAlive(dir) {
			continue
		}
		if beforeRemove != nil {
			beforeRemove(dir)
		}
		if err := unmountUnder(dir); err != nil {
			return err
		}
		os.RemoveAll(dir)
	}
	return nil
}

// HoldFile in a temp directory says it may hold more than files (a build's
// RUN containers): only CleanStaleIngest, whose caller knows how to release
// those, removes it after its owner died.
const HoldFile = ".hold"

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// cleanStaleTemps removes what killed writers left in ingest: their blob
// temp files, and their temp directories unless they are held (HoldFile)
// or something is mounted there. Run on every Open; ingest is normally
// empty.
func (s *Store) cleanStaleTemps() {
	root := filepath.Join(s.Root, ingestDir)
	ents, err := os.ReadDir(root)
	if err != nil || len(ents) == 0 {
		return
	}
	var mounted []*mountinfo.Info
	var mountsRead bool
	for _, e := range ents {
		p := filepath.Join(root, e.Name())
		if !e.IsDir() {
			if !tempFileOwnerAlive(e.Name()) {
				os.Remove(p)
			}
			continue
		}
		if ownerAlive(p) || exists(filepath.Join(p, HoldFile)) {
			continue
		}
		if !mountsRead {
			mounted, _ = mountinfo.GetMounts(mountinfo.PrefixFilter(root))
			mountsRead = true
		}
		busy := false
		for _, m := range mounted {
			if m.Mountpoint == p || strings.HasPrefix(m.Mountpoint, p+"/") {
				busy = true
				break
			}
		}
		if !busy {
			os.RemoveAll(p)
		}
	}
}
