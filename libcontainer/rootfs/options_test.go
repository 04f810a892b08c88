package rootfs

import (
	"os"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseOptions(t *testing.T) {
	cases := []struct {
		name    string
		opts    []string
		flags   uintptr
		cleared uintptr
		data    string
		prop    []uintptr
		recSet  uint64
		recClr  uint64
		atime   bool
	}{
		{name: "runc dev", opts: []string{"nosuid", "strictatime", "mode=755", "size=65536k"},
			flags: unix.MS_NOSUID | unix.MS_STRICTATIME, data: "mode=755,size=65536k", atime: true},
		{name: "rbind ro", opts: []string{"rbind", "ro", "nosuid", "nodev", "noexec"},
			flags: unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC},
		{name: "later wins", opts: []string{"ro", "rw", "nosuid", "suid", "exec", "noexec"},
			flags: unix.MS_NOEXEC, cleared: unix.MS_RDONLY | unix.MS_NOSUID},
		{name: "sync dirsync mand remount", opts: []string{"sync", "dirsync", "mand", "remount", "async"},
			flags: unix.MS_DIRSYNC | unix.MS_MANDLOCK | unix.MS_REMOUNT, cleared: unix.MS_SYNCHRONOUS},
		{name: "atimes", opts: []string{"noatime", "nodiratime", "relatime"},
			flags: unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME, atime: true},
		{name: "atime clears", opts: []string{"noatime", "atime", "diratime"},
			cleared: unix.MS_NOATIME | unix.MS_NODIRATIME, atime: true},
		{name: "propagation", opts: []string{"bind", "rprivate", "shared", "slave", "runbindable"},
			flags: unix.MS_BIND,
			prop:  []uintptr{unix.MS_PRIVATE | unix.MS_REC, unix.MS_SHARED, unix.MS_SLAVE, unix.MS_UNBINDABLE | unix.MS_REC}},
		{name: "recursive", opts: []string{"rbind", "rro", "rnosuid", "rdev", "rnoatime"},
			flags:  unix.MS_BIND | unix.MS_REC,
			recSet: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NOATIME,
			recClr: unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR__ATIME},
		{name: "rrw after rro", opts: []string{"rro", "rrw"}, recClr: unix.MOUNT_ATTR_RDONLY},
		{name: "unknown to data", opts: []string{"newinstance", "ptmxmode=0666", "mode=0620", "gid=5", "defaults"},
			data: "newinstance,ptmxmode=0666,mode=0620,gid=5"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := parseOptions(tc.opts)
			if o.flags != tc.flags {
				t.Errorf("flags %#x, want %#x", o.flags, tc.flags)
			}
			if o.cleared != tc.cleared {
				t.Errorf("cleared %#x, want %#x", o.cleared, tc.cleared)
			}
			if got := o.dataString(); got != tc.data {
				t.Errorf("data %q, want %q", got, tc.data)
			}
			if !slices.Equal(o.prop, tc.prop) {
				t.Errorf("prop %#x, want %#x", o.prop, tc.prop)
			}
			if o.recSet != tc.recSet || o.recClr != tc.recClr {
				t.Errorf("rec set/clr %#x/%#x, want %#x/%#x", o.recSet, o.recClr, tc.recSet, tc.recClr)
			}
			if o.atime != tc.atime {
				t.Errorf("atime %v, want %v", o.atime, tc.atime)
			}
		})
	}
}

func TestParseOptionsIDMap(t *testing.T) {
	for _, tc := range []struct {
		opts          []string
		idmap, rec    bool
		recursiveBind bool
	}{
		{[]string{"bind", "idmap"}, true, false, false},
		{[]string{"rbind", "ridmap"}, true, true, true},
		{[]string{"rbind", "idmap"}, true, false, true},
		{[]string{"rbind"}, false, false, true},
	} {
		o := parseOptions(tc.opts)
		if o.idmap != tc.idmap || o.idmapRec != tc.rec || (o.flags&unix.MS_REC != 0) != tc.recursiveBind {
			t.Errorf("%v: idmap %v rec %v flags %#x", tc.opts, o.idmap, o.idmapRec, o.flags)
		}
		if len(o.data) != 0 {
			t.Errorf("%v: idmap options leak into mount data %v", tc.opts, o.data)
		}
	}
}

func TestPropagationFlag(t *testing.T) {
	for in, want := range map[string]uintptr{
		"": 0, "rslave": unix.MS_SLAVE | unix.MS_REC, "shared": unix.MS_SHARED,
		"private": unix.MS_PRIVATE, "runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
	} {
		got, err := propagationFlag(in)
		if err != nil || got != want {
			t.Errorf("%q: %#x, %v; want %#x", in, got, err, want)
		}
	}
	if _, err := propagationFlag("sideways"); err == nil {
		t.Error("unknown propagation accepted")
	}
}

func TestStatfsToMS(t *testing.T) {
	got := statfsToMS(unix.ST_RDONLY|unix.ST_NOSUID|unix.ST_RELATIME|unix.ST_SYNCHRONOUS, true)
	want := uintptr(unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_RELATIME)
	if got != want {
		t.Errorf("got %#x want %#x", got, want)
	}
	if got := statfsToMS(unix.ST_NODEV, true); got != unix.MS_NODEV|unix.MS_STRICTATIME {
		t.Errorf("no atime flags should mean strictatime, got %#x", got)
	}
	if got := statfsToMS(unix.ST_NOEXEC|unix.ST_NOATIME, false); got != unix.MS_NOEXEC {
		t.Errorf("atime not requested, got %#x", got)
	}
}

func TestDevicesToCreate(t *testing.T) {
	mode := os.FileMode(0o600)
	c := &Config{Spec: &rspec.Spec{Linux: &rspec.Linux{Devices: []rspec.LinuxDevice{
		{Path: "/dev/null", Type: "c", Major: 1, Minor: 3, FileMode: &mode},
		{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229},
	}}}}
	devs, fields := c.devicesToCreate()
	if len(devs) != 7 {
		t.Fatalf("got %d devices", len(devs))
	}
	for i, d := range devs {
		if d.Path == "/dev/null" && (d.FileMode == nil || *d.FileMode != 0o600 || fields[i] != "linux.devices[0]") {
			t.Errorf("configured /dev/null should replace the default: %+v %s", d, fields[i])
		}
	}
	m, err := deviceMode(rspec.LinuxDevice{Type: "b"})
	if err != nil || m != unix.S_IFBLK|0o666 {
		t.Errorf("block default mode %o %v", m, err)
	}
	if _, err := deviceMode(rspec.LinuxDevice{Type: "x"}); err == nil {
		t.Error("bad type accepted")
	}
}

func TestWithLabel(t *testing.T) {
	c := &Config{MountLabel: "system_u:object_r:container_file_t:s0:c1,c2"}
	got := c.withLabel("tmpfs", []string{"size=1m"})
	if strings.Join(got, ",") != `size=1m,context="system_u:object_r:container_file_t:s0:c1,c2"` {
		t.Errorf("tmpfs: %q", got)
	}
	if got := c.withLabel("proc", nil); len(got) != 0 {
		t.Errorf("proc got a label: %q", got)
	}
	if got := (&Config{}).withLabel("tmpfs", nil); len(got) != 0 {
		t.Errorf("no label configured: %q", got)
	}
}
