package container

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/myrun-org/myrun/imgtool/network"
	"github.com/myrun-org/myrun/imgtool/store"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func TestParseVolume(t *testing.T) {
	dir := t.TempDir()
	v, err := ParseVolume(dir + ":/data:ro")
	if err != nil || v.Source != dir || v.Dest != "/data" || !v.ReadOnly {
		t.Fatalf("%+v %v", v, err)
	}
	if v, err = ParseVolume(dir + ":/data/"); err != nil || v.ReadOnly || v.Dest != "/data" {
		t.Fatalf("%+v %v", v, err)
	}
	if v, err = ParseVolume("named:/x/:ro"); err != nil || v.Name != "named" || v.Source != "" || v.Dest != "/x" || !v.ReadOnly {
		t.Fatalf("named volume: %+v %v", v, err)
	}
	if v, err = ParseVolume("named:/x:nocopy,ro"); err != nil || v.Name != "named" || !v.NoCopy || !v.ReadOnly {
		t.Fatalf("nocopy,ro: %+v %v", v, err)
	}
	if v, err = ParseVolume("named:/x:rw,copy"); err != nil || v.NoCopy || v.ReadOnly {
		t.Fatalf("rw,copy: %+v %v", v, err)
	}
	bad := map[string]string{
		"/nonexistent-myimg-test:/x": "does not exist",
		"named:/x:ro,rw":             "give one of ro or rw, once",
		"named:/x:ro,ro":             "give one of ro or rw, once",
		"named:/x:nocopy,copy":       "give one of copy or nocopy, once",
		"named:/x:nocopy,ro,nocopy":  "give one of copy or nocopy, once",
		"named:/x:z":                 `option "z"`,
		dir + ":rel":                 "must be absolute",
		"bad name!:/x":               "nor a volume",
		dir + ":/x:rx":               "want ro or rw",
		dir:                          "HOST-PATH:CONTAINER-PATH",
	}
	for in, want := range bad {
		if _, err := ParseVolume(in); err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "-v ") {
			t.Errorf("ParseVolume(%q) = %v, want error with %q", in, err, want)
		}
	}
}

func TestParseMemoryCPUs(t *testing.T) {
	for in, want := range map[string]int64{"512m": 512 << 20, "1g": 1 << 30, "1G": 1 << 30, "10000000": 10000000, "8192k": 8 << 20, "64mb": 64 << 20} {
		if got, err := ParseMemory(in); err != nil || got != want {
			t.Errorf("ParseMemory(%q) = %d, %v", in, got, err)
		}
	}
	for _, in := range []string{"12q", "-1m", "m", "1k", "99999999999g"} {
		if _, err := ParseMemory(in); err == nil || !strings.HasPrefix(err.Error(), "--memory") {
			t.Errorf("ParseMemory(%q) = %v", in, err)
		}
	}
	q, p, err := ParseCPUs("0.5")
	if err != nil || q != 50000 || p != 100000 {
		t.Fatalf("cpus 0.5: %d %d %v", q, p, err)
	}
	for _, in := range []string{"0", "-1", "abc", "0.001"} {
		if _, _, err := ParseCPUs(in); err == nil || !strings.HasPrefix(err.Error(), "--cpus") {
			t.Errorf("ParseCPUs(%q) = %v", in, err)
		}
	}
}

func TestParseEnvAndName(t *testing.T) {
	t.Setenv("MYIMG_TEST_FROM_HOST", "yes")
	got, err := ParseEnv([]string{"A=1", "B=", "MYIMG_TEST_FROM_HOST", "MYIMG_TEST_UNSET_VAR"})
	if err != nil || strings.Join(got, ",") != "A=1,B=,MYIMG_TEST_FROM_HOST=yes" {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := ParseEnv([]string{"=x"}); err == nil {
		t.Error("empty name accepted")
	}
	for _, n := range []string{"web", "a.b_c-1"} {
		if ValidName(n) != nil {
			t.Errorf("name %q refused", n)
		}
	}
	for _, n := range []string{"-x", "a/b", "", strings.Repeat("ab", 32)} {
		if ValidName(n) == nil {
			t.Errorf("name %q accepted", n)
		}
	}
}

func TestValidateNamesFlags(t *testing.T) {
	base := func() Options {
		return Options{Image: "busybox", Runtime: "/bin/true", Net: "none", Bridge: network.DefaultBridge, Subnet: network.DefaultSubnet}
	}
	cases := []struct {
		mod  func(o *Options)
		want string
	}{
		{func(o *Options) { o.Net = "nat" }, "--net"},
		{func(o *Options) { o.Ports = []string{"x"}; o.Net = "bridge" }, "-p"},
		{func(o *Options) { o.Ports = []string{"80:80"} }, "--net none"},
		{func(o *Options) { o.Net = "host"; o.Ports = []string{"80:80"} }, "--net host"},
		{func(o *Options) { o.Net = "bridge"; o.Ports = []string{"80:80", "127.0.0.1:80:81"} }, "given twice"},
		{func(o *Options) { o.Volumes = []string{"/nonexistent-xyz:/a"} }, "-v"},
		{func(o *Options) { o.Name = "bad/name" }, "--name"},
		{func(o *Options) { o.DNS = []string{"resolver"} }, "--dns"},
		{func(o *Options) { o.Memory = "lots" }, "--memory"},
		{func(o *Options) { o.CPUs = "-2" }, "--cpus"},
		{func(o *Options) { o.PidsLimit = -5 }, "--pids-limit"},
		{func(o *Options) { o.Workdir = "rel" }, "-w"},
		{func(o *Options) { o.Net = "bridge"; o.Subnet = "10.0.0.1/24" }, "--subnet"},
		{func(o *Options) { o.Net = "bridge"; o.Bridge = "a.b" }, "--bridge"},
		{func(o *Options) { o.Runtime = "" }, "no runtime"},
	}
	for i, c := range cases {
		o := base()
		c.mod(&o)
		if _, err := o.validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("case %d: err = %v, want it to name %q", i, err, c.want)
		}
	}
	o := base()
	o.Ports, o.Net = []string{"127.0.0.1:8080:80/udp"}, "bridge"
	o.Memory, o.CPUs, o.PidsLimit = "64m", "1.5", 10
	p, err := o.validate()
	if err != nil || len(p.ports) != 1 || p.memory != 64<<20 || p.quota != 150000 {
		t.Fatalf("valid options: %+v %v", p, err)
	}
	if os.Geteuid() != 0 {
		o := base()
		o.Net = "bridge"
		if _, err := o.validate(); err == nil || !strings.Contains(err.Error(), "needs root") {
			t.Errorf("unprivileged --net bridge: %v", err)
		}
	}
}

func TestStoreRecordsAndLookup(t *testing.T) {
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cs, err := Open(s)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{strings.Repeat("a", 64), "ab" + strings.Repeat("c", 62)}
	for i, id := range ids {
		os.Mkdir(cs.Dir(id), 0o700)
		if err := cs.Save(&Record{ID: id, Name: []string{"one", "two"}[i], Status: StatusExited}); err != nil {
			t.Fatal(err)
		}
	}
	for ref, want := range map[string]string{"one": ids[0], "two": ids[1], ids[1]: ids[1], "aaaa": ids[0], "abc": ids[1]} {
		r, err := cs.Lookup(ref)
		if err != nil || r.ID != want {
			t.Errorf("Lookup(%q) = %v, %v", ref, r, err)
		}
	}
	if _, err := cs.Lookup("a"); err == nil {
		t.Error("one-character prefix accepted")
	}
	if _, err := cs.Lookup("nothere"); err == nil || !strings.Contains(err.Error(), "no such container") {
		t.Errorf("missing: %v", err)
	}
	r, err := cs.Update(ids[0], func(r *Record) { r.ExitCode = 42 })
	if err != nil || r.ExitCode != 42 {
		t.Fatal(err)
	}
	if err := checkConflicts([]*Record{r}, "one", nil); err == nil || !strings.Contains(err.Error(), "--name") {
		t.Errorf("name conflict: %v", err)
	}
	run := &Record{ID: ids[1], Name: "web", Status: StatusRunning, Network: network.Attachment{Ports: []network.PortMapping{{HostPort: 8080, ContainerPort: 80, Proto: "tcp"}}}}
	if err := checkConflicts([]*Record{run}, "", []network.PortMapping{{HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 81, Proto: "tcp"}}); err == nil || !strings.Contains(err.Error(), "-p") {
		t.Errorf("port conflict: %v", err)
	}
	// A crashed create leaves a directory without a record: still listed.
	orphan := strings.Repeat("f", 64)
	os.Mkdir(cs.Dir(orphan), 0o700)
	if r, err := cs.Lookup("ffff"); err != nil || r.ID != orphan {
		t.Errorf("orphan dir: %v %v", r, err)
	}
	// Save never recreates a removed container's directory.
	os.RemoveAll(cs.Dir(ids[0]))
	if err := cs.Save(&Record{ID: ids[0]}); err == nil {
		t.Error("Save recreated a removed container")
	}
}

func TestLogsRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.log")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	lw := &logWriter{f: f}
	var tee bytes.Buffer
	lw.copyStream("stdout", strings.NewReader("a\nb\npartial"), &tee)
	lw.copyStream("stderr", strings.NewReader("err\n"), nil)
	f.Close()
	if tee.String() != "a\nb\npartial" {
		t.Errorf("tee %q", tee.String())
	}
	raw, _ := os.ReadFile(p)
	if !strings.Contains(string(raw), `{"stream":"stdout","time":"`) || strings.Count(string(raw), "\n") != 4 {
		t.Errorf("log file:\n%s", raw)
	}
	var out, errb bytes.Buffer
	if err := ReadLogs(p, false, nil, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if out.String() != "a\nb\npartial" || errb.String() != "err\n" {
		t.Errorf("stdout %q stderr %q", out.String(), errb.String())
	}
	calls := 0
	out.Reset()
	if err := ReadLogs(p, true, func() bool { calls++; return true }, &out, &errb); err != nil || calls != 1 || out.Len() == 0 {
		t.Errorf("follow: calls=%d err=%v", calls, err)
	}
}

func TestSpecHelpers(t *testing.T) {
	for in, want := range map[string]string{"SIGTERM": "TERM", "sigquit": "QUIT", "9": "9", "": "TERM", "USR1": "USR1"} {
		if got := signalName(in); got != want {
			t.Errorf("signalName(%q) = %q", in, got)
		}
	}
	s := &rspec.Spec{Linux: &rspec.Linux{
		Namespaces:  []rspec.LinuxNamespace{{Type: "pid"}, {Type: "user"}, {Type: "mount"}},
		UIDMappings: []rspec.LinuxIDMapping{{HostID: 1000, Size: 1}},
	}}
	joinPause(s, 42)
	if s.Linux.Namespaces[0].Path != "/proc/42/ns/user" || s.Linux.Namespaces[1].Path != "/proc/42/ns/net" || len(s.Linux.Namespaces) != 4 || len(s.Linux.UIDMappings) != 1 {
		t.Errorf("joinPause: %+v", s.Linux)
	}
	r := &Record{Network: network.Attachment{Mode: network.ModeBridge, Netns: "/run/myimg/netns/x"}}
	s = &rspec.Spec{Linux: &rspec.Linux{Namespaces: []rspec.LinuxNamespace{{Type: "network"}, {Type: "pid"}}}}
	setNetns(s, r)
	if len(s.Linux.Namespaces) != 2 || s.Linux.Namespaces[1].Path != "/run/myimg/netns/x" {
		t.Errorf("bridge netns: %+v", s.Linux.Namespaces)
	}
	r.Network.Mode = network.ModeHost
	setNetns(s, r)
	if len(s.Linux.Namespaces) != 1 {
		t.Errorf("host netns: %+v", s.Linux.Namespaces)
	}
	if procStart, err := procStartTime(os.Getpid()); err != nil || !alive(os.Getpid(), procStart) || alive(os.Getpid(), procStart+1) {
		t.Errorf("proc start time: %d %v", procStart, err)
	}
}
