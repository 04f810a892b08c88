// Package testuser makes a throwaway unprivileged account for the root
// tests of both CLIs (rootless runs): no home, no automatic subordinate
// ids, removed again at cleanup. Only tests import it.
package testuser

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SubCount is the size of the subordinate uid and gid range AddSubIDs
// grants.
const SubCount = 65536

var subFiles = []string{"/etc/subuid", "/etc/subgid"}

// User is one account made by New.
type User struct {
	Name     string
	UID, GID int
	SubStart int // first id of the range AddSubIDs grants

	t    testing.TB
	orig map[string][]byte // /etc/subuid and /etc/subgid as found
}

// New creates the account prefix<pid> (shell /bin/sh, its own group).
// The subordinate range it may get starts at subBase plus a slot chosen
// by pid, so concurrent test binaries do not share one. At cleanup every
// process running as the user or in its range is killed, its lines in
// /etc/subuid and /etc/subgid (only those) are removed, and so is the
// account.
func New(t testing.TB, prefix string, subBase int) *User {
	t.Helper()
	for _, tool := range []string{"useradd", "userdel", "newuidmap", "newgidmap"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed (apt-get install passwd uidmap)", tool)
		}
	}
	name := fmt.Sprintf("%s%d", prefix, os.Getpid())
	out, err := exec.Command("useradd", "-M", "-U", "-s", "/bin/sh",
		"-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0", name).CombinedOutput()
	if err != nil {
		t.Fatalf("useradd: %v: %s", err, out)
	}
	u := &User{Name: name, t: t, orig: map[string][]byte{}}
	for _, f := range subFiles {
		u.orig[f], _ = os.ReadFile(f)
	}
	t.Cleanup(u.remove)
	pw, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	u.UID, _ = strconv.Atoi(pw.Uid)
	u.GID, _ = strconv.Atoi(pw.Gid)
	u.SubStart = subBase + (os.Getpid()%2000)*SubCount
	return u
}

// Credential runs a command as the user, with no supplementary groups.
func (u *User) Credential() *syscall.Credential {
	return &syscall.Credential{Uid: uint32(u.UID), Gid: uint32(u.GID), Groups: []uint32{}}
}

// AddSubIDs appends "<name>:<SubStart>:<SubCount>" to /etc/subuid and
// /etc/subgid.
func (u *User) AddSubIDs() {
	u.t.Helper()
	for _, f := range subFiles {
		fh, err := os.OpenFile(f, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			u.t.Fatal(err)
		}
		fmt.Fprintf(fh, "%s:%d:%d\n", u.Name, u.SubStart, SubCount)
		fh.Close()
	}
}

// Kill sends SIGKILL to whatever runs as the user or as an id of its
// subordinate range (ours only: the ids are unique to this run).
func (u *User) Kill() {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat("/proc/"+e.Name(), &st) != nil {
			continue
		}
		if id := int(st.Uid); id == u.UID || (id >= u.SubStart && id < u.SubStart+SubCount) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// remove kills the user's processes, takes the lines naming the user out
// of /etc/subuid and /etc/subgid (concurrent edits by others survive) and
// deletes the account.
func (u *User) remove() {
	u.Kill()
	for _, f := range subFiles {
		raw, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var keep []string
		for _, l := range strings.SplitAfter(string(raw), "\n") {
			if l != "" && !strings.HasPrefix(l, u.Name+":") {
				keep = append(keep, l)
			}
		}
		s := strings.Join(keep, "")
		if s != string(raw) {
			os.WriteFile(f, []byte(s), 0o644)
		}
		if s != string(u.orig[f]) {
			// Someone else edited the file meanwhile; their lines stay.
			u.t.Logf("%s differs from its state at the start (concurrent edit?)", f)
		}
	}
	if out, err := u.userdel(); err != nil {
		u.t.Errorf("userdel %s: %v: %s", u.Name, err, out)
	}
}

// userdel deletes the account. A process SIGKILLed by Kill is still in
// /proc until the kernel has torn it down (and a zombie until its parent
// reaps it), and userdel refuses a user with processes: so it is tried
// again, killing again, for up to 2 s, then forced (the account goes; a
// zombie left is its parent's to reap).
func (u *User) userdel() ([]byte, error) {
	var out []byte
	var err error
	for try := 0; try < 20; try++ {
		if out, err = exec.Command("userdel", u.Name).CombinedOutput(); err == nil {
			return nil, nil
		}
		time.Sleep(100 * time.Millisecond)
		u.Kill()
	}
	u.t.Logf("userdel %s: %v: %s; forcing it", u.Name, err, out)
	return exec.Command("userdel", "-f", u.Name).CombinedOutput()
}
