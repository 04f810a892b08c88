package nsexec

import (
	"bytes"
	"strings"
	"testing"
)

func TestExecProcessEncode(t *testing.T) {
	um := uint32(0o22)
	p := ExecProcess{
		Args: []string{"sh", "-c", "a=b c"}, Env: []string{"X=1\n2"}, Cwd: "/w", LookupHome: true,
		UID: 1, GID: 2, AdditionalGids: []uint32{3, 4}, Umask: &um, NoNewPrivs: true,
		Rlimits: []Rlimit{{Resource: 7, Soft: 1, Hard: ^uint64(0), Name: "RLIMIT_NOFILE"}},
		LastCap: 40, Caps: [5]uint64{0xff, 1, 2, 3, 4}, FirstFd: 5, Terminal: true, ConsoleFd: 6, Rows: 24, Cols: 80,
		SeccompFlags: 9, SeccompProgram: []byte{0x06, 0, 0, 0, 0, 0, 0xff, 0x7f},
	}
	raw, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(raw), "\x00"), "\x00")
	want := []string{"a=sh", "a=-c", "a=a=b c", "e=X=1\n2", "cwd=/w", "home=1", "uid=1", "gid=2", "g=3", "g=4",
		"umask=18", "nnp=1", "rl=7 1 18446744073709551615 RLIMIT_NOFILE", "last=40",
		"capb=ff", "cape=1", "capp=2", "capi=3", "capa=4", "fd=5", "tty=1", "console=6", "tsize=24 80",
		"sf=9", "sp=060000000000ff7f"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	p.Env = []string{"BAD=\x00"}
	if _, err := p.Encode(); err == nil {
		t.Fatal("NUL in env accepted")
	}
	p.Env, p.SeccompProgram = nil, nil
	raw, _ = p.Encode()
	if bytes.Contains(raw, []byte("sp=")) || bytes.Contains(raw, []byte("sf=")) {
		t.Fatal("seccomp fields without a program")
	}
}
