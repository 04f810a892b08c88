package main

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// mountEntry is one line of /proc/self/mountinfo that we care about.
type mountEntry struct {
	ID         int
	MountPoint string
}

// parseMountinfo parses mountinfo text; mount points are unescaped (\040 etc.).
func parseMountinfo(text string) []mountEntry {
	var out []mountEntry
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		id, err := strconv.Atoi(f[0])
		if err != nil {
			continue
		}
		out = append(out, mountEntry{ID: id, MountPoint: unescapeOctal(f[4])})
	}
	return out
}

func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func readMounts() ([]mountEntry, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	return parseMountinfo(string(b)), nil
}

// isUnder reports whether p is dir or below it.
func isUnder(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// newMountsUnder returns mount points present in after but not before whose
// path lies under one of roots, deepest first so children go before parents.
func newMountsUnder(before, after []mountEntry, roots []string) []string {
	seen := map[int]bool{}
	for _, m := range before {
		seen[m.ID] = true
	}
	var out []string
	for _, m := range after {
		if seen[m.ID] {
			continue
		}
		for _, r := range roots {
			if isUnder(m.MountPoint, r) {
				out = append(out, m.MountPoint)
				break
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		return strings.Count(out[i], "/") > strings.Count(out[j], "/")
	})
	return out
}

// anyMountUnder reports a mount point below dir: removing dir recursively
// would then reach into a live filesystem (a leaked /dev or /sys).
func anyMountUnder(mounts []mountEntry, dir string) (string, bool) {
	for _, m := range mounts {
		if isUnder(m.MountPoint, dir) {
			return m.MountPoint, true
		}
	}
	return "", false
}

// unmountLeftovers lazily unmounts the given mount points (stacked mounts on
// one path need several rounds) and returns those that failed.
func unmountLeftovers(points []string) []string {
	var failed []string
	for _, p := range points {
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && err != unix.EINVAL && err != unix.ENOENT {
			failed = append(failed, p+": "+err.Error())
		}
	}
	return failed
}
