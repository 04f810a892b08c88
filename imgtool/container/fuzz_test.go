package container

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseVolume: an accepted -v gives an existing absolute host source
// (or a valid volume name) and a clean absolute container path; errors
// quote the value.
func FuzzParseVolume(f *testing.F) {
	dir := f.TempDir()
	for _, s := range []string{dir + ":/data", dir + ":/data:ro", dir + ":/data:rw", dir + ":/data:z", "./:/x", "named:/x",
		dir + ":relative", ":/x", dir + ":/a/../b", dir + "::ro", "/nonexistent-fz:/x", dir + ":/x:ro:extra", "/:/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		vol, err := ParseVolume(v)
		if err != nil {
			if !strings.HasPrefix(err.Error(), fmt.Sprintf("-v %q: ", v)) && !strings.Contains(err.Error(), "getwd") {
				t.Fatalf("error does not quote the value: %v", err)
			}
			return
		}
		if vol.Name != "" {
			if vol.Source != "" || ValidVolumeName(vol.Name) != nil || !filepath.IsAbs(vol.Dest) || filepath.Clean(vol.Dest) != vol.Dest {
				t.Fatalf("%q -> %+v: bad named volume", v, vol)
			}
			return
		}
		if !filepath.IsAbs(vol.Source) || !filepath.IsAbs(vol.Dest) || filepath.Clean(vol.Dest) != vol.Dest {
			t.Fatalf("%q -> %+v: paths not absolute and clean", v, vol)
		}
		if _, err := os.Stat(vol.Source); err != nil {
			t.Fatalf("%q -> source %q does not exist", v, vol.Source)
		}
		if vol.ReadOnly != strings.HasSuffix(v, ":ro") {
			t.Fatalf("%q -> read-only %v", v, vol.ReadOnly)
		}
	})
}

// FuzzParseResources: --memory and --cpus never overflow into a negative
// or tiny limit.
func FuzzParseResources(f *testing.F) {
	for _, s := range []string{"512m", "1g", "6m", "5m", "9223372036854775807", "8589934591g", "1.5", "0.01", "NaN", "Inf", "-1", "1e308", "1024", "0x10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n, err := ParseMemory(s); err == nil && s != "" && (n < 6<<20 || n > 1<<62) {
			t.Fatalf("--memory %q -> %d", s, n)
		}
		if q, p, err := ParseCPUs(s); err == nil && s != "" && (q < 1000 || p != 100000 || q > 1024*100000) {
			t.Fatalf("--cpus %q -> quota %d period %d", s, q, p)
		}
	})
}
