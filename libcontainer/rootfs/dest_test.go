package rootfs

import "testing"

// A destination spelled with the rootfs' host path in front is that path
// inside the container (runc's mount-order tests write them so).
func TestInRootDest(t *testing.T) {
	for _, c := range []struct{ root, dest, want string }{
		{"/b/rootfs", "/b/rootfs/final", "/final"},
		{"/b/rootfs", "/b/rootfs", "/"},
		{"/b/rootfs", "/b/rootfs/../etc", "/b/etc"},
		{"/b/rootfs", "/b/rootfsx/a", "/b/rootfsx/a"},
		{"/b/rootfs", "/mnt", "/mnt"},
		{"/b/rootfs/", "/b/rootfs/x/../y", "/y"},
		{"/", "/a", "/a"},
	} {
		if got := inRootDest(c.root, c.dest); got != c.want {
			t.Errorf("inRootDest(%q, %q) = %q, want %q", c.root, c.dest, got, c.want)
		}
	}
}
