package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// testTempPrefixes are the os.MkdirTemp patterns runtime-tools uses
// (util.PrepareBundle, pidfile). We point TMPDIR at a private directory, so
// these only show up in /tmp if a program ignores TMPDIR.
var testTempPrefixes = []string{"ocitest", "oci-pid"}

// listTemp returns the entries of dir whose names start with a test prefix.
func listTemp(dir string) map[string]bool {
	out := map[string]bool{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return out
	}
	for _, e := range ents {
		for _, p := range testTempPrefixes {
			if strings.HasPrefix(e.Name(), p) {
				out[filepath.Join(dir, e.Name())] = true
				break
			}
		}
	}
	return out
}

// newEntries returns paths in after that were not in before.
func newEntries(before, after map[string]bool) []string {
	var out []string
	for p := range after {
		if !before[p] {
			out = append(out, p)
		}
	}
	return out
}

// safeRemoveAll removes dir unless a mount is still below it: os.RemoveAll
// crosses mount points and would delete files of a leaked /dev or /sys.
func safeRemoveAll(dir string) error {
	mounts, err := readMounts()
	if err != nil {
		return err
	}
	if mp, busy := anyMountUnder(mounts, dir); busy {
		return fmt.Errorf("not removing %s: %s is still mounted", dir, mp)
	}
	return os.RemoveAll(dir)
}
