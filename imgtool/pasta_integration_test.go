//go:build integration

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// pasta (Debian's passt) as a network mode beside slirp4netns, as root on
// our own netns and rootless on the pause process's namespaces.

func needPasta(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("pasta"); err != nil {
		t.Fatal("pasta not installed (apt-get install passt)")
	}
}

func TestPastaRoot(t *testing.T) {
	needPasta(t)
	root := runEnv(t)
	if out := mustImg(t, root, "run", "--rm", "--net", "pasta", "busybox", "sh", "-c", "ip -4 -o addr show | grep -v ' lo ' | grep -c inet"); out != "1\n" {
		t.Fatalf("--net pasta: addresses %q", out)
	}
	port := freeRunPort(t)
	www := t.TempDir()
	os.WriteFile(filepath.Join(www, "index.html"), []byte("via pasta\n"), 0o644)
	mustImg(t, root, "run", "-d", "--name", "pw", "--net", "pasta", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), "-v", www+":/www:ro",
		"busybox", "httpd", "-f", "-p", "80", "-h", "/www")
	c := inspectCtr(t, root, "pw")
	if c.Network.SlirpPid == 0 || gone(c.Network.SlirpPid) {
		t.Fatalf("no pasta process recorded: %+v", c.Network)
	}
	if got := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); got != "via pasta\n" {
		t.Fatalf("GET through pasta: %q", got)
	}
	mustImg(t, root, "rm", "-f", "pw")
	noTraces(t, root, c)
	if out, err := myimg(t, root, "run", "--rm", "--net", "pastaa", "busybox", "true"); err == nil || !strings.Contains(out, "pasta") {
		t.Fatalf("bad --net: %v %s", err, out)
	}
}

func TestPastaRootless(t *testing.T) {
	needPasta(t)
	u := newRLUser(t)
	u.AddSubIDs()
	// /dev/net/tun is 0600 here: open it up for the test, then restore.
	st, err := os.Stat("/dev/net/tun")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod("/dev/net/tun", 0o666)
	defer os.Chmod("/dev/net/tun", st.Mode().Perm())
	bb := exec.Command(filepath.Join(repo, "contrib/images/busybox.sh"), "-r", filepath.Join(u.home, "store"))
	bb.Dir = u.home
	bb.Env = []string{"HOME=" + u.home, "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "MYIMG=" + filepath.Join(binDir, "myimg")}
	bb.SysProcAttr = &syscall.SysProcAttr{Credential: u.Credential()}
	if out, err := bb.CombinedOutput(); err != nil {
		t.Fatalf("busybox.sh: %v\n%s", err, out)
	}
	if out, stderr, err := u.img(nil, "run", "--rm", "--net", "pasta", "busybox", "sh", "-c", "ip -4 -o addr show | grep -v ' lo ' | grep -c inet"); err != nil || out != "1\n" {
		t.Fatalf("rootless --net pasta: %v %q %s", err, out, stderr)
	}
	port := freeRunPort(t)
	out, stderr, err := u.img(nil, "run", "-d", "--name", "rp", "--net", "pasta", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
	if err != nil {
		t.Fatalf("rootless run -d --net pasta: %v %s %s", err, out, stderr)
	}
	id := strings.TrimSpace(out)
	defer u.img(nil, "rm", "-f", id)
	if got := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/hostname", port)); strings.TrimSpace(got) != id[:12] {
		t.Fatalf("GET through rootless pasta: %q", got)
	}
	insp, _, _ := u.img(nil, "inspect", "--type", "container", "rp")
	var c inspected
	json.Unmarshal([]byte(insp), &c)
	if c.Network.SlirpPid == 0 || c.PausePid == 0 {
		t.Fatalf("inspect: %s", insp)
	}
	if out, stderr, err := u.img(nil, "rm", "-f", "rp"); err != nil {
		t.Fatalf("rm -f: %v %s %s", err, out, stderr)
	}
	for _, p := range []int{c.Network.SlirpPid, c.PausePid, c.MonitorPid} {
		if p > 0 && !gone(p) {
			t.Errorf("process %d still runs after rm", p)
		}
	}
}
