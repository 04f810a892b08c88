package userns

import (
	"reflect"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func TestParseSubIDsAndMapping(t *testing.T) {
	in := "# comment\nother:100000:65536\nalice:200000:1000\n1001:300000:10\n\nalice:400000:5\n"
	got, err := ParseSubIDs(strings.NewReader(in), "/etc/subuid", "alice", 1001)
	if err != nil {
		t.Fatal(err)
	}
	want := []Range{{200000, 1000}, {300000, 10}, {400000, 5}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ranges %v, want %v", got, want)
	}
	m := Mapping(1001, got)
	wm := []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 1001, Size: 1}, {ContainerID: 1, HostID: 200000, Size: 1000},
		{ContainerID: 1001, HostID: 300000, Size: 10}, {ContainerID: 1011, HostID: 400000, Size: 5}}
	if !reflect.DeepEqual(m, wm) {
		t.Fatalf("mapping %v, want %v", m, wm)
	}
	for _, bad := range []string{"alice:1:2:3\n", "alice:x:2\n", "alice:5:0\n", "alice:4294967295:2\n"} {
		if _, err := ParseSubIDs(strings.NewReader(bad), "/etc/subuid", "alice", 1); err == nil || !strings.Contains(err.Error(), "/etc/subuid:1") {
			t.Errorf("%q: err %v, want one naming /etc/subuid:1", bad, err)
		}
	}
}

func TestToContainer(t *testing.T) {
	m := Maps{UIDs: Mapping(1001, []Range{{200000, 1000}}), GIDs: Mapping(1002, []Range{{300000, 10}})}
	for _, c := range [][4]uint32{
		{1001, 1002, 0, 0}, {200000, 300000, 1, 1}, {200999, 300009, 1000, 10},
		{201000, 300010, Overflow, Overflow}, {0, 0, Overflow, Overflow},
	} {
		if u, g := m.ToContainer(c[0], c[1]); u != c[2] || g != c[3] {
			t.Errorf("ToContainer(%d, %d) = %d, %d, want %d, %d", c[0], c[1], u, g, c[2], c[3])
		}
	}
}
