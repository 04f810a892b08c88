package main

import (
	"reflect"
	"testing"
)

const sampleMountinfo = `22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
40 22 0:5 / /tmp/x/ocitest1/rootfs rw - overlay overlay rw
41 40 0:6 / /tmp/x/ocitest1/rootfs/proc rw - proc proc rw
42 40 0:7 / /tmp/x/ocitest1/rootfs/dev rw - tmpfs tmpfs rw
43 22 0:8 / /tmp/with\040space rw - tmpfs tmpfs rw
44 22 0:9 / /tmp/xy rw - tmpfs tmpfs rw
`

func TestParseMountinfo(t *testing.T) {
	m := parseMountinfo(sampleMountinfo)
	if len(m) != 6 {
		t.Fatalf("got %d entries", len(m))
	}
	if m[4].MountPoint != "/tmp/with space" || m[4].ID != 43 {
		t.Fatalf("unescape: %+v", m[4])
	}
}

func TestNewMountsUnder(t *testing.T) {
	all := parseMountinfo(sampleMountinfo)
	before := all[:2] // / and the rootfs existed already
	got := newMountsUnder(before, all, []string{"/tmp/x"})
	want := []string{"/tmp/x/ocitest1/rootfs/proc", "/tmp/x/ocitest1/rootfs/dev"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	// /tmp/xy is not under /tmp/x.
	if got := newMountsUnder(nil, all, []string{"/tmp/x"}); len(got) != 3 || got[2] != "/tmp/x/ocitest1/rootfs" {
		t.Fatalf("deepest first, no prefix confusion: %v", got)
	}
}

func TestIsUnder(t *testing.T) {
	for _, c := range []struct {
		p, dir string
		want   bool
	}{
		{"/tmp/a", "/tmp/a", true},
		{"/tmp/a/b", "/tmp/a", true},
		{"/tmp/ab", "/tmp/a", false},
		{"/tmp", "/tmp/a", false},
		{"/tmp/..a", "/tmp", true},
	} {
		if got := isUnder(c.p, c.dir); got != c.want {
			t.Errorf("isUnder(%q, %q) = %v", c.p, c.dir, got)
		}
	}
}
