package cgroups

import (
	"encoding/json"
	"strings"
	"testing"

	lib "github.com/opencontainers/cgroups"
	"github.com/opencontainers/runtime-spec/specs-go"
)

func TestToLib(t *testing.T) {
	r := &specs.LinuxResources{
		Memory:  &specs.LinuxMemory{Limit: ptr(int64(-1)), DisableOOMKiller: ptr(true), CheckBeforeUpdate: ptr(true)},
		Pids:    &specs.LinuxPids{Limit: ptr(int64(-1))},
		Network: &specs.LinuxNetwork{ClassID: ptr(uint32(0x100001)), Priorities: []specs.LinuxInterfacePriority{{Name: "eth0", Priority: 5}}},
		BlockIO: &specs.LinuxBlockIO{WeightDevice: []specs.LinuxWeightDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Weight: ptr(uint16(200))}}},
		Rdma:    map[string]specs.LinuxRdma{"mlx5_0": {HcaHandles: ptr(uint32(3))}},
	}
	res, err := toLib(r, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Memory != -1 || !res.OomKillDisable || !res.MemoryCheckBeforeUpdate || *res.PidsLimit != -1 ||
		res.NetClsClassid != 0x100001 || res.NetPrioIfpriomap[0].CgroupString() != "eth0 5" ||
		res.BlkioWeightDevice[0].WeightString() != "8:0 200" || *res.Rdma["mlx5_0"].HcaHandles != 3 ||
		!res.SkipDevices || res.Devices != nil {
		t.Errorf("toLib = %+v", res)
	}
}

// runtime-spec 1.3: pids.limit 0 is a limit (runc 1.4 writes 1), -1 and
// other negatives mean none.
func TestPidsLimitZeroIsALimit(t *testing.T) {
	for in, want := range map[int64]int64{0: 1, -1: -1, -7: -1, 5: 5} {
		res, err := toLib(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr(in)}}, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		if res.PidsLimit == nil || *res.PidsLimit != want {
			t.Errorf("pids.limit %d: got %v, want %d", in, res.PidsLimit, want)
		}
	}
}

func TestDeviceRules(t *testing.T) {
	r := &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: ptr(int64(4)), Access: "rw"},
	}}
	rules, err := deviceRules(r, []specs.LinuxDevice{{Type: "b", Major: 7, Minor: 0}, {Type: "p"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range rules {
		s := d.CgroupString()
		if !d.Allow {
			s = "deny " + s
		}
		got = append(got, s)
	}
	want := "deny a *:* rwm,c 4:* rw,c *:* m,b *:* m,c 1:3 rwm,c 1:5 rwm,c 1:7 rwm,c 1:8 rwm,c 1:9 rwm,c 5:0 rwm,c 5:1 rwm,c 5:2 rwm,c 136:* rwm"
	if strings.Join(got, ",") != want {
		t.Errorf("rules\n got %s\nwant %s", strings.Join(got, ","), want)
	}
	if _, err := deviceRules(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Access: "rwx"}}}, nil); err == nil ||
		!strings.HasPrefix(err.Error(), "linux.resources.devices[0]: access") {
		t.Errorf("bad access: %v", err)
	}
}

// The JSON keys are runc's `events --stats` keys.
func TestStatsJSONShape(t *testing.T) {
	s := lib.NewStats()
	s.CpuStats.CpuUsage.TotalUsage = 5
	s.CpuStats.ThrottlingData.ThrottledPeriods = 2
	s.MemoryStats.Usage = lib.MemoryData{Usage: 10, Limit: 20}
	s.MemoryStats.Stats["cache"] = 1
	s.PidsStats = lib.PidsStats{Current: 3, Limit: 9}
	s.BlkioStats.IoServiceBytesRecursive = []lib.BlkioStatEntry{{Major: 8, Op: "Read", Value: 4}}
	s.HugetlbStats["2MB"] = lib.HugetlbStats{Usage: 1, MaxUsage: 2}
	b, err := json.Marshal(convertStats(s))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"cpu":{"usage":{"total":5,"kernel":0,"user":0},"throttling":{"throttledPeriods":2}}`,
		`"memory":{"usage":{"limit":20,"usage":10,"failcnt":0}`,
		`"raw":{"cache":1}`,
		`"pids":{"current":3,"limit":9}`,
		`"blkio":{"ioServiceBytesRecursive":[{"major":8,"op":"Read","value":4}]}`,
		`"hugetlb":{"2MB":{"usage":1,"max":2,"failcnt":0}}`,
		`"cpuset":{"cpu_exclusive":0`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("missing %s in\n%s", want, b)
		}
	}
}

func ptr[T any](v T) *T { return &v }
