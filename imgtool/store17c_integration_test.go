//go:build integration

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/imgtool/network"
)

// Issue 17, leftovers: attach with stdin, unless-stopped, network
// connect/disconnect and --internal, credential helpers.

func TestAttachStdin(t *testing.T) {
	root := runEnv(t)
	var made []inspected
	defer rmAll(t, root, &made)
	// A -d -i container reads what attach is given, line by line; the end
	// of attach's input is not the end of the container's stdin.
	mustImg(t, root, "run", "-d", "-i", "--name", "echoer", "--net", "none", "busybox", "sh", "-c",
		`while read l; do echo "got $l"; [ "$l" = quit ] && exit 4; done; echo eof`)
	made = append(made, inspectCtr(t, root, "echoer"))
	cmd, in, out, _ := startAttach(t, root, "echoer")
	io.WriteString(in, "one\n")
	waitFor(t, "first line echoed", func() bool { return out.String() == "got one\n" })
	// ctrl-p then another key is passed on, both bytes; ctrl-p,ctrl-q detaches
	// and is not passed on.
	io.WriteString(in, "\x10x\n\x10\x11")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("detach: %v, %q", err, out.String())
	}
	if st := inspectCtr(t, root, "echoer"); st.Status != "running" {
		t.Fatalf("after detaching the container is %s", st.Status)
	}
	// Piped input that ends: the container is still reading.
	cmd, in, out, _ = startAttach(t, root, "echoer")
	io.WriteString(in, "two\n")
	in.Close()
	waitFor(t, "second line echoed", func() bool { return out.String() == "got two\n" })
	if st := inspectCtr(t, root, "echoer"); st.Status != "running" {
		t.Fatalf("after attach's EOF the container is %s", st.Status)
	}
	cmd.Process.Kill()
	cmd.Wait()
	// Custom keys, and the exit code of the container at the end.
	cmd, in, out, _ = startAttach(t, root, "--detach-keys", "ctrl-a,x", "echoer")
	io.WriteString(in, "\x10\x11\nquit\n")
	if err := cmd.Wait(); exitOf(err) != 4 || out.String() != "got \x10\x11\ngot quit\n" {
		t.Fatalf("attach to the end: %v, %q", err, out.String())
	}
	if o, _, _ := runImg(t, root, "logs", "echoer"); o != "got one\ngot \x10x\ngot two\ngot \x10\x11\ngot quit\n" {
		t.Fatalf("logs: %q", o)
	}

	// --no-stdin: nothing reaches the container, and no detach keys.
	mustImg(t, root, "run", "-d", "-i", "--name", "reader", "--net", "none", "busybox", "sh", "-c",
		`while ! read -t 1 l; do echo tick; done; echo "got $l"`)
	made = append(made, inspectCtr(t, root, "reader"))
	cmd, in, out, _ = startAttach(t, root, "--no-stdin", "reader")
	waitFor(t, "attached", func() bool { return strings.Contains(out.String(), "tick\n") })
	io.WriteString(in, "ignored\n\x10\x11")
	in.Close()
	// Then an attach with stdin ends it: the --no-stdin attach sees it too.
	cmd2, in2, out2, _ := startAttach(t, root, "reader")
	io.WriteString(in2, "real\n")
	if err := cmd2.Wait(); err != nil || !strings.HasSuffix(out2.String(), "got real\n") || strings.Contains(out.String(), "ignored") {
		t.Fatalf("attach with stdin: %v %q", err, out2.String())
	}
	if err := cmd.Wait(); err != nil || !strings.HasSuffix(out.String(), "tick\ngot real\n") {
		t.Fatalf("attach --no-stdin: %v %q", err, out.String())
	}
	// A container run without -i: attach input goes nowhere.
	mustImg(t, root, "run", "-d", "--name", "deaf", "--net", "none", "busybox", "sh", "-c", `read l; echo "got <$l>"`)
	made = append(made, inspectCtr(t, root, "deaf"))
	if out := mustImg(t, root, "wait", "deaf"); out != "0\n" {
		t.Fatalf("wait deaf: %q", out)
	}
	if o, _, _ := runImg(t, root, "logs", "deaf"); o != "got <>\n" {
		t.Fatalf("deaf logs: %q", o)
	}
}

// TestRestartUnlessStoppedAndNo: unless-stopped restarts a clean exit
// like always, but not after `myimg stop`; no never restarts. Whether a
// restart followed is read once the monitor, the only one to restart, is
// gone.
func TestRestartUnlessStoppedAndNo(t *testing.T) {
	root := runEnv(t)
	var made []inspected
	defer rmAll(t, root, &made)
	monitorGone := func(s restartState) bool { return s.Status == "exited" && (s.MonitorPid == 0 || gone(s.MonitorPid)) }
	mustImg(t, root, "run", "-d", "--name", "us", "--net", "none", "--restart", "unless-stopped", "busybox", "sh", "-c", "echo up; sleep 0.2")
	made = append(made, inspectCtr(t, root, "us"))
	waitRestart(t, root, "us", func(s restartState) bool { return s.RestartCount >= 2 })
	if !strings.Contains(mustImg(t, root, "inspect", "--type", "container", "us"), `"restart": "unless-stopped"`) {
		t.Fatalf("inspect does not show the policy")
	}
	mustImg(t, root, "stop", "-t", "1", "us")
	st := waitRestart(t, root, "us", monitorGone)
	if again := waitRestart(t, root, "us", func(restartState) bool { return true }); again != st {
		t.Fatalf("changed after the monitor ended: %+v then %+v", st, again)
	}
	// no, given explicitly: a failure is not restarted.
	mustImg(t, root, "run", "-d", "--name", "once", "--net", "none", "--restart", "no", "busybox", "sh", "-c", "echo once; exit 2")
	made = append(made, inspectCtr(t, root, "once"))
	if st := waitRestart(t, root, "once", monitorGone); st.RestartCount != 0 || st.ExitCode != 2 {
		t.Fatalf("--restart no: %+v", st)
	}
	if o, _, _ := runImg(t, root, "logs", "once"); o != "once\n" {
		t.Fatalf("--restart no ran again: %q", o)
	}
}

// TestNetworkConnectInternal: network connect/disconnect of a running
// container (a veth into its netns, hosts files rewritten) and an
// --internal network (no NAT, no route out, its members reach each
// other).
func TestNetworkConnectInternal(t *testing.T) {
	root := runEnv(t)
	n := os.Getpid() % 250
	frontBr, backBr := fmt.Sprintf("mcf%d", os.Getpid()%100000), fmt.Sprintf("mcb%d", os.Getpid()%100000)
	frontNet, backNet := fmt.Sprintf("10.92.%d.0/24", n), fmt.Sprintf("10.93.%d.0/24", n)
	var made []inspected
	t.Cleanup(func() {
		rmAll(t, root, &made)
		for _, br := range []string{frontBr, backBr} {
			if link, rules := bridgeState(t, br); link || rules > 0 {
				t.Errorf("bridge %s left: link %v, %d rules", br, link, rules)
			}
			network.RemoveBridge(br)
		}
	})
	mustImg(t, root, "network", "create", "--subnet", frontNet, "--interface-name", frontBr, "front")
	mustImg(t, root, "network", "create", "--internal", "--subnet", backNet, "--interface-name", backBr, "back")
	var insp []struct{ Internal bool }
	if json.Unmarshal([]byte(mustImg(t, root, "network", "inspect", "back", "front")), &insp); len(insp) != 2 || !insp[0].Internal || insp[1].Internal {
		t.Fatalf("inspect internal: %+v", insp)
	}
	run := func(name, net string) inspected {
		mustImg(t, root, "run", "-d", "--name", name, "--net", net, "busybox", "sleep", "300")
		c := inspectCtr(t, root, name)
		made = append(made, c)
		return c
	}
	a, b := run("a", "front"), run("b", "back")
	run("c", "back")
	// Internal: no default route, no NAT rule, the host's address on the
	// other network is out of reach; members reach each other by name.
	if out := mustImg(t, root, "exec", "b", "ip", "route"); strings.Contains(out, "default") {
		t.Fatalf("route out of an internal network:\n%s", out)
	}
	if r, _ := network.RulesWithComment("nat", network.NetComment(backBr)); len(r) > 0 {
		t.Fatalf("NAT rules for an internal network: %v", r)
	}
	gwFront := strings.TrimSuffix(frontNet, "0/24") + "1"
	if out, err := myimg(t, root, "exec", "b", "ping", "-c", "1", "-W", "1", gwFront); err == nil {
		t.Fatalf("internal b reached %s: %s", gwFront, out)
	}
	mustImg(t, root, "exec", "b", "ping", "-c", "1", "-W", "2", "c")
	if out := mustImg(t, root, "exec", "a", "ip", "route"); !strings.Contains(out, "default") {
		t.Fatalf("no default route on front:\n%s", out)
	}

	// connect: a joins back as eth1; names resolve both ways; a keeps its
	// default route on eth0.
	mustImg(t, root, "network", "connect", "back", "a")
	a = inspectCtr(t, root, "a")
	if out := mustImg(t, root, "exec", "a", "ip", "-4", "addr", "show", "eth1"); !strings.Contains(out, strings.TrimSuffix(backNet, "0/24")) {
		t.Fatalf("a's eth1:\n%s", out)
	}
	if out := mustImg(t, root, "exec", "a", "ip", "route"); !strings.Contains(out, "default via "+gwFront+" dev eth0") {
		t.Fatalf("a's routes after connect:\n%s", out)
	}
	mustImg(t, root, "exec", "a", "ping", "-c", "1", "-W", "2", "b")
	mustImg(t, root, "exec", "b", "ping", "-c", "1", "-W", "2", "a")
	var members []struct {
		Containers map[string]struct{ Name, IP string }
	}
	json.Unmarshal([]byte(mustImg(t, root, "network", "inspect", "back")), &members)
	if len(members) != 1 || members[0].Containers[a.ID].Name != "a" || len(members[0].Containers) != 3 {
		t.Fatalf("back's members: %+v", members)
	}
	for _, bad := range [][]string{
		{"connect", "back", "a"}, {"connect", "bridge", "a"}, {"connect", "nosuch", "a"}, {"connect", "--alias", "bad/alias", "front", "b"},
		{"disconnect", "front", "b"}, {"connect", "back"},
	} {
		if out, err := myimg(t, root, append([]string{"network"}, bad...)...); err == nil {
			t.Errorf("network %v accepted: %s", bad, out)
		}
	}
	// disconnect: eth1 and the host veth go, b forgets a.
	mustImg(t, root, "network", "disconnect", "back", "a")
	if out, err := myimg(t, root, "exec", "a", "ip", "link", "show", "eth1"); err == nil {
		t.Fatalf("eth1 after disconnect: %s", out)
	}
	if v := network.ConnectedVethName(a.ID, 1); network.LinkExists(v) {
		t.Fatalf("veth %s after disconnect", v)
	}
	if out := mustImg(t, root, "exec", "b", "cat", "/etc/hosts"); strings.Contains(out, "\ta ") {
		t.Fatalf("b's hosts after a left:\n%s", out)
	}
	if out := mustImg(t, root, "exec", "a", "cat", "/etc/hosts"); strings.Contains(out, "network back") {
		t.Fatalf("a's hosts after it left back:\n%s", out)
	}
	// Connected again, then removed: rm takes the veth and the lease.
	mustImg(t, root, "network", "connect", "back", "a")
	mustImg(t, root, "exec", "b", "ping", "-c", "1", "-W", "2", "a")
	mustImg(t, root, "rm", "-f", "a")
	if out := mustImg(t, root, "exec", "b", "cat", "/etc/hosts"); strings.Contains(out, "\ta ") {
		t.Fatalf("b's hosts after a was removed:\n%s", out)
	}
	// A restart makes the connected network again.
	mustImg(t, root, "run", "-d", "--name", "d", "--net", "front", "--restart", "on-failure", "busybox", "sh", "-c",
		"if [ -f /ran ]; then exec sleep 300; fi; touch /ran; while [ ! -f /go ]; do sleep 0.1; done; exit 1")
	made = append(made, inspectCtr(t, root, "d"))
	mustImg(t, root, "network", "connect", "back", "d")
	mustImg(t, root, "exec", "d", "touch", "/go")
	waitRestart(t, root, "d", func(s restartState) bool { return s.RestartCount == 1 && s.Status == "running" })
	mustImg(t, root, "exec", "d", "ip", "link", "show", "eth1")
	mustImg(t, root, "exec", "b", "ping", "-c", "1", "-W", "2", "d")
	_ = b
}

// fakeCredHelper is docker-credential-fake in a PATH directory of its
// own: it keeps credentials as files in dir and logs its verbs to
// dir/calls.
const fakeCredHelper = `#!/bin/sh
d="$FAKE_CRED_DIR"
echo "$1" >> "$d/calls"
key() { printf %s "$1" | tr '/:' '__'; }
case "$1" in
store)
	in=$(cat)
	url=$(printf %s "$in" | sed -n 's/.*"ServerURL":"\([^"]*\)".*/\1/p')
	printf %s "$in" > "$d/cred-$(key "$url")" ;;
get)
	url=$(cat)
	f="$d/cred-$(key "$url")"
	[ -f "$f" ] || { echo "credentials not found in native keychain"; exit 1; }
	cat "$f" ;;
erase)
	url=$(cat)
	f="$d/cred-$(key "$url")"
	[ -f "$f" ] || { echo "credentials not found in native keychain"; exit 1; }
	rm "$f" ;;
list)
	sep=""; printf '{'
	for f in "$d"/cred-*; do
		[ -f "$f" ] || continue
		url=$(sed -n 's/.*"ServerURL":"\([^"]*\)".*/\1/p' "$f")
		user=$(sed -n 's/.*"Username":"\([^"]*\)".*/\1/p' "$f")
		printf '%s"%s":"%s"' "$sep" "$url" "$user"; sep=","
	done
	printf '}\n' ;;
*) echo "unknown verb $1" >&2; exit 2 ;;
esac
`

func TestCredentialHelpers(t *testing.T) {
	root := busyboxStore(t)
	reg := authProxy(t)
	run := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", run)
	t.Setenv("HOME", t.TempDir())
	t.Setenv("REGISTRY_AUTH_FILE", "")
	authFile := filepath.Join(run, "containers", "auth.json")
	bin, creds := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "docker-credential-fake"), []byte(fakeCredHelper), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	t.Setenv("FAKE_CRED_DIR", creds)
	calls := func() string {
		b, _ := os.ReadFile(filepath.Join(creds, "calls"))
		os.Remove(filepath.Join(creds, "calls"))
		return strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", ",")
	}
	writeConf := func(conf string) {
		os.MkdirAll(filepath.Dir(authFile), 0o700)
		if err := os.WriteFile(authFile, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ref := reg + "/bb:1"
	root2 := filepath.Join(t.TempDir(), "store")

	// credHelpers: login stores through the helper, not in the file.
	writeConf(fmt.Sprintf(`{"credHelpers": {%q: "fake"}}`, reg))
	if out, err := myimgStdin(t, root, []byte("s3cret\n"), "login", "--tls-verify=false", "-u", "alice", "--password-stdin", reg); err != nil || out != "Login Succeeded!\n" {
		t.Fatalf("login: %v %s", err, out)
	}
	if c := calls(); c != "store" {
		t.Fatalf("helper calls of login: %q", c)
	}
	if b, _ := os.ReadFile(authFile); strings.Contains(string(b), "auths") || strings.Contains(string(b), "YWxpY2U6czNjcmV0") {
		t.Fatalf("login wrote the credentials into the file: %s", b)
	}
	if out := mustImg(t, root, "login", "--get-login", reg); out != "alice\n" {
		t.Fatalf("--get-login: %q", out)
	}
	calls()
	mustImg(t, root, "push", "-q", "--tls-verify=false", "busybox", ref)
	mustImg(t, root2, "pull", "-q", "--tls-verify=false", ref)
	if c := calls(); !strings.HasPrefix(c, "get") || strings.Trim(c, "get,") != "" {
		t.Fatalf("helper calls of push and pull: %q", c)
	}
	if out := mustImg(t, root, "logout", reg); out != "Removed login credentials for "+reg+"\n" {
		t.Fatalf("logout: %q", out)
	}
	if c := calls(); c != "erase" {
		t.Fatalf("helper calls of logout: %q", c)
	}
	if out, err := myimg(t, root2, "pull", "-q", "--tls-verify=false", ref); err == nil {
		t.Fatalf("pull after logout: %s", out)
	}
	if out, err := myimg(t, root, "logout", reg); err == nil || !strings.Contains(out, "not logged into") {
		t.Fatalf("second logout: %v %s", err, out)
	}

	// credsStore: the helper of every registry; logout -a erases what it lists.
	writeConf(`{"credsStore": "fake"}`)
	myimgStdin(t, root, []byte("s3cret\n"), "login", "--tls-verify=false", "-u", "alice", "--password-stdin", reg)
	mustImg(t, root2, "pull", "-q", "--tls-verify=false", ref)
	calls()
	if out := mustImg(t, root, "logout", "-a"); out != "Removed login credentials for all registries\n" {
		t.Fatalf("logout -a: %q", out)
	}
	if c := calls(); c != "list,erase" {
		t.Fatalf("helper calls of logout -a: %q", c)
	}
	if ents, _ := filepath.Glob(filepath.Join(creds, "cred-*")); len(ents) > 0 {
		t.Fatalf("logout -a left %v", ents)
	}
	if out, err := myimg(t, root2, "pull", "-q", "--tls-verify=false", ref); err == nil {
		t.Fatalf("pull after logout -a: %s", out)
	}
	// A helper that is not installed is an error naming it.
	writeConf(fmt.Sprintf(`{"credHelpers": {%q: "nosuch"}}`, reg))
	if out, err := myimg(t, root2, "pull", "-q", "--tls-verify=false", ref); err == nil || !strings.Contains(out, "docker-credential-nosuch") {
		t.Fatalf("pull with a missing helper: %v %s", err, out)
	}
}

// TestAttachTTY: run -d -t gives the container a terminal its monitor
// holds (output logged as it comes, 24x80 until an attach sets its own
// size); with -i attach types into it.
func TestAttachTTY(t *testing.T) {
	root := runEnv(t)
	var made []inspected
	defer rmAll(t, root, &made)
	mustImg(t, root, "run", "-d", "-t", "--name", "term", "--net", "none", "busybox", "sh", "-c", "tty; stty size; exit 3")
	made = append(made, inspectCtr(t, root, "term"))
	if out := mustImg(t, root, "wait", "term"); out != "3\n" {
		t.Fatalf("wait: %q", out)
	}
	if o, _, _ := runImg(t, root, "logs", "term"); strings.ReplaceAll(o, "\r\n", "\n") != "/dev/pts/0\n24 80\n" {
		t.Fatalf("logs of a -d -t container: %q", o)
	}

	mustImg(t, root, "run", "-d", "-i", "-t", "--name", "shell", "--net", "none", "busybox", "sh")
	made = append(made, inspectCtr(t, root, "shell"))
	cmd, in, out, _ := startAttach(t, root, "shell")
	io.WriteString(in, "echo hi-$((1+2))\n")
	waitFor(t, "the shell's answer", func() bool { return strings.Contains(out.String(), "hi-3\n") })
	io.WriteString(in, "\x10\x11")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("detach: %v", err)
	}
	// From a terminal: its size reaches the container's.
	m, pts := openPty(t)
	unix.IoctlSetWinsize(int(pts.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 100})
	at := exec.Command(filepath.Join(binDir, "myimg"), "--root", root, "attach", "shell")
	at.Stdin, at.Stdout, at.Stderr = pts, pts, pts
	if err := at.Start(); err != nil {
		t.Fatal(err)
	}
	seen := &syncBuf{}
	go io.Copy(seen, m)
	waitFor(t, "the size", func() bool {
		m.Write([]byte("stty size\r"))
		time.Sleep(100 * time.Millisecond)
		return strings.Contains(seen.String(), "40 100")
	})
	m.Write([]byte("exit 5\r"))
	if err := at.Wait(); exitOf(err) != 5 {
		t.Fatalf("attach to the end: %v\n%q", err, seen.String())
	}
}

// TestRootlessDetachedStdinTTY: -d -i and -d -t for an unprivileged user.
func TestRootlessDetachedStdinTTY(t *testing.T) {
	u := newRLUser(t)
	u.AddSubIDs()
	bbCmd := exec.Command(filepath.Join(repo, "contrib/images/busybox.sh"), "-r", filepath.Join(u.home, "store"))
	bbCmd.Dir = u.home
	bbCmd.Env = []string{"HOME=" + u.home, "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "MYIMG=" + filepath.Join(binDir, "myimg")}
	bbCmd.SysProcAttr = &syscall.SysProcAttr{Credential: u.Credential()}
	if out, err := bbCmd.CombinedOutput(); err != nil {
		t.Fatalf("busybox.sh as %s: %v\n%s", u.Name, err, out)
	}
	must := func(args ...string) string {
		t.Helper()
		out, stderr, err := u.img(nil, args...)
		if err != nil {
			t.Fatalf("myimg %v as %s: %v\n%s%s", args, u.Name, err, out, stderr)
		}
		return out
	}
	defer u.img(nil, "rm", "-f", "rt", "ri")
	must("run", "-d", "-t", "--name", "rt", "--net", "none", "busybox", "sh", "-c", "tty; stty size")
	if out := must("wait", "rt"); out != "0\n" {
		t.Fatalf("wait: %q", out)
	}
	if o := must("logs", "rt"); strings.ReplaceAll(o, "\r\n", "\n") != "/dev/pts/0\n24 80\n" {
		t.Fatalf("logs of a rootless -d -t container: %q", o)
	}
	must("run", "-d", "-i", "--name", "ri", "--net", "none", "busybox", "sh", "-c", `read l; echo "got $l"`)
	at := exec.Command(filepath.Join(binDir, "myimg"), "--root", filepath.Join(u.home, "store"), "attach", "ri")
	at.Dir = u.home
	at.Env = []string{"HOME=" + u.home, "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "USER=" + u.Name}
	at.SysProcAttr = &syscall.SysProcAttr{Credential: u.Credential()}
	at.Stdin = strings.NewReader("rootless\n")
	if out, err := at.CombinedOutput(); err != nil || string(out) != "got rootless\n" {
		t.Fatalf("rootless attach with stdin: %v %q", err, out)
	}
	must("rm", "rt", "ri")
}
