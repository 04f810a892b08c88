package criu

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/myrun-org/myrun/libcontainer/criu/rpc"
)

func TestCheckImageDir(t *testing.T) {
	dir := t.TempDir()
	if err := CheckImageDir("--image-path", filepath.Join(dir, "nope")); err == nil || !strings.Contains(err.Error(), "--image-path") {
		t.Fatalf("missing dir: %v", err)
	}
	if err := CheckImageDir("--image-path", dir); err == nil || !strings.Contains(err.Error(), "no inventory.img") {
		t.Fatalf("empty dir: %v", err)
	}
	inv := filepath.Join(dir, "inventory.img")
	os.WriteFile(inv, []byte("garbage!"), 0o600)
	if err := CheckImageDir("--image-path", dir); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("bad magic: %v", err)
	}
	hdr := make([]byte, 12)
	binary.LittleEndian.PutUint32(hdr, imgCommonMagic)
	binary.LittleEndian.PutUint32(hdr[4:], inventoryMagic)
	os.WriteFile(inv, hdr, 0o600)
	if err := CheckImageDir("--image-path", dir); err != nil {
		t.Fatalf("common + inventory magic: %v", err)
	}
	// What criu 3.17 writes: the inventory magic alone, then the entry.
	binary.LittleEndian.PutUint32(hdr, inventoryMagic)
	binary.LittleEndian.PutUint32(hdr[4:], 0x26)
	os.WriteFile(inv, hdr, 0o600)
	if err := CheckImageDir("--image-path", dir); err != nil {
		t.Fatalf("inventory magic: %v", err)
	}
}

func TestCheckPreDump(t *testing.T) {
	dir := t.TempDir()
	if err := CheckPreDump("--parent-path", dir); err == nil || !strings.Contains(err.Error(), "not a pre-dump") {
		t.Fatalf("empty: %v", err)
	}
	pm := filepath.Join(dir, "pagemap-1.img")
	// Empty or cut short (as in the VM: criu 3.17 then dumped on without
	// the parent), or not CRIU's: refused, naming the file.
	for _, b := range [][]byte{nil, {0x19, 0x43, 0x56, 0x54, 0x25}, []byte("garbage!")} {
		os.WriteFile(pm, b, 0o600)
		if err := CheckPreDump("--parent-path", dir); err == nil || !strings.Contains(err.Error(), "--parent-path: "+pm+": corrupt pre-dump") {
			t.Fatalf("%q: %v", b, err)
		}
	}
	hdr := make([]byte, 12)
	binary.LittleEndian.PutUint32(hdr, imgCommonMagic)
	binary.LittleEndian.PutUint32(hdr[4:], 0x56084025) // the image's own magic
	os.WriteFile(pm, hdr, 0o600)
	if err := CheckPreDump("--parent-path", dir); err != nil {
		t.Fatal(err)
	}
}

func TestParse(t *testing.T) {
	for in, want := range map[string]rpc.CriuCgMode{"": rpc.CriuCgMode_SOFT, "soft": rpc.CriuCgMode_SOFT, "full": rpc.CriuCgMode_FULL, "strict": rpc.CriuCgMode_STRICT, "ignore": rpc.CriuCgMode_IGNORE} {
		if got, err := ParseCgroupsMode(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	if _, err := ParseCgroupsMode("props"); err == nil || !strings.Contains(err.Error(), "--manage-cgroups-mode") {
		t.Errorf("bad mode: %v", err)
	}
	if b, err := ParseEmptyNs([]string{"network"}); err != nil || b != 0x40000000 {
		t.Errorf("network: %x %v", b, err)
	}
	if _, err := ParseEmptyNs([]string{"ipc"}); err == nil {
		t.Error("ipc accepted")
	}
	if a, p, err := ParsePageServer("127.0.0.1:2700"); err != nil || a != "127.0.0.1" || p != 2700 {
		t.Errorf("page server: %s %d %v", a, p, err)
	}
	for _, bad := range []string{"127.0.0.1", ":1", "h:0", "h:x"} {
		if _, _, err := ParsePageServer(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestConfigFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "c.conf")
	os.WriteFile(f, nil, 0o600)
	if p, err := ConfigFile(map[string]string{ConfigAnnotation: f}); err != nil || p != f {
		t.Errorf("%s %v", p, err)
	}
	if p, err := ConfigFile(map[string]string{ConfigAnnotation: ""}); err != nil || p != "" {
		t.Errorf("empty: %s %v", p, err)
	}
	if _, err := ConfigFile(map[string]string{ConfigAnnotation: f + ".missing"}); err == nil || !strings.Contains(err.Error(), ConfigAnnotation) {
		t.Errorf("missing: %v", err)
	}
}

func TestCheckMissingBinary(t *testing.T) {
	if err := Check("/nonexistent/criu"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("%v", err)
	}
	// A binary whose "check" fails is reported with its output.
	sh := filepath.Join(t.TempDir(), "criu")
	os.WriteFile(sh, []byte("#!/bin/sh\necho 'Error (criu/kerndat.c:1): vdso: Unexpected rt vDSO area bounds' >&2\nexit 1\n"), 0o755)
	err := Check(sh)
	if _, ok := err.(*KernelError); !ok || !strings.Contains(err.Error(), "vDSO") {
		t.Fatalf("%v", err)
	}
}

func TestLogError(t *testing.T) {
	log := filepath.Join(t.TempDir(), "restore.log")
	if got := LogError(log); got != "" {
		t.Fatalf("missing log: %q", got)
	}
	os.WriteFile(log, []byte("(00.000100) Version: 3.17\n(00.004567)      1: Error (criu/image.c:421): Unable to open core-1.img: No such file or directory\n(00.004601) Error (criu/cr-restore.c:2397): Restoring FAILED.\n"), 0o600)
	if got, want := LogError(log), "Error (criu/image.c:421): Unable to open core-1.img: No such file or directory"; got != want {
		t.Fatalf("LogError = %q, want %q", got, want)
	}
	os.WriteFile(log, []byte("(00.000100) Version: 3.17\n"), 0o600)
	if got := LogError(log); got != "" {
		t.Fatalf("no error: %q", got)
	}
}

// The bound on CRIU's answers: the flag, else the annotation, else the
// environment, else the default; bad values name their source.
func TestTimeout(t *testing.T) {
	ann := map[string]string{TimeoutAnnotation: "2m"}
	t.Setenv(TimeoutEnv, "3m")
	for _, tc := range []struct {
		given time.Duration
		ann   map[string]string
		want  time.Duration
	}{
		{time.Minute, ann, time.Minute},
		{0, ann, 0},
		{-1, ann, 2 * time.Minute},
		{-1, nil, 3 * time.Minute},
		{-1, map[string]string{TimeoutAnnotation: "0"}, 0},
	} {
		if got, err := Timeout(tc.given, tc.ann); err != nil || got != tc.want {
			t.Errorf("Timeout(%v, %v) = %v, %v; want %v", tc.given, tc.ann, got, err, tc.want)
		}
	}
	os.Unsetenv(TimeoutEnv)
	if got, err := Timeout(-1, nil); err != nil || got != DefaultTimeout {
		t.Errorf("no source: %v, %v", got, err)
	}
	for _, bad := range []string{"ten", "-1s", ""} {
		if _, err := Timeout(-1, map[string]string{TimeoutAnnotation: bad}); err == nil || !strings.Contains(err.Error(), `annotations["run.myrun.criu-timeout"]: "`+bad+`"`) {
			t.Errorf("annotation %q: %v", bad, err)
		}
		t.Setenv(TimeoutEnv, bad)
		if _, err := Timeout(-1, nil); err == nil || !strings.Contains(err.Error(), TimeoutEnv+`: "`+bad+`"`) {
			t.Errorf("env %q: %v", bad, err)
		}
	}
}
