//go:build integration

package main

import (
	"os"
	"strings"
	"testing"
)

// -v NAME:CTR:nocopy, as podman 4.3: the container does not fill the
// unpopulated volume from the image, and the volume stays unpopulated,
// so the next container without nocopy fills it. Before nocopy was
// known, -v refused it ("want ro or rw").
func TestNamedVolumeNoCopy(t *testing.T) {
	root := runEnv(t)
	// ro probes read-only with a write that would succeed (and leave a
	// file) on a read-write volume.
	ls := func(opt, cmd string) string {
		out := mustImg(t, root, "run", "--rm", "--net", "none", "-v", "nc:/usr/sbin"+opt, "busybox", "sh", "-c", "ls /usr/sbin | wc -l"+cmd)
		return strings.Join(strings.Fields(out), " ")
	}
	if got := ls(":nocopy,ro", "; touch /usr/sbin/w 2>/dev/null || echo ro"); got != "0 ro" {
		t.Fatalf("nocopy,ro: %q, want an empty read-only volume", got)
	}
	if got := ls(":nocopy", ""); got != "0" {
		t.Fatalf("nocopy: %q, want an empty volume", got)
	}
	if out := mustImg(t, root, "volume", "inspect", "nc"); !strings.Contains(out, `"Populated": false`) {
		t.Fatalf("volume inspect after nocopy uses: %s", out)
	}
	want := strings.TrimSpace(mustImg(t, root, "run", "--rm", "--net", "none", "busybox", "sh", "-c", "ls /usr/sbin | wc -l"))
	if got := ls("", ""); got != want {
		t.Fatalf("first use without nocopy: %q, want the image's %s entries", got, want)
	}
	mustImg(t, root, "volume", "rm", "nc")
	for _, bad := range []string{"nc:/x:ro,rw", "nc:/x:copy,nocopy", "nc:/x:z"} {
		if out, err := myimg(t, root, "run", "--rm", "-v", bad, "busybox", "true"); err == nil || !strings.Contains(out, "-v") {
			t.Fatalf("-v %s: %v %s", bad, err, out)
		}
	}
}

// top with podman's format descriptors (podman top CTR user pid comm)
// is refused naming them and the ps(1) spelling; a ps option ps rejects
// fails with what ps said. Before, both failed with "ps: exit status 1".
func TestTopDescriptorsAndPsErrors(t *testing.T) {
	root := runEnv(t)
	mustImg(t, root, "run", "-d", "--name", "topper", "--net", "none", "busybox", "sleep", "1000")
	c := inspectCtr(t, root, "topper")
	defer func() {
		mustImg(t, root, "rm", "-f", "topper")
		noTraces(t, root, c)
	}()
	if out, err := myimg(t, root, "top", "topper", "user", "pid", "comm"); err == nil || !strings.Contains(out, "descriptors (user pid comm)") || !strings.Contains(out, "-o user,pid,comm") {
		t.Fatalf("top with descriptors: %v %s", err, out)
	}
	if out, err := myimg(t, root, "top", "topper", "-Q"); err == nil || !strings.Contains(out, "unsupported SysV option") {
		t.Fatalf("top -Q: %v %s", err, out)
	}
	if out := mustImg(t, root, "top", "topper", "-o", "user,pid,comm"); !strings.Contains(out, "sleep") || !strings.Contains(out, "USER") {
		t.Fatalf("top -o user,pid,comm:\n%s", out)
	}
}

// images prints podman 4.3's columns: REPOSITORY and TAG apart (a
// registry port stays in the repository), so `awk '{print $3}'` is the
// IMAGE ID as with podman. Before: one REPOSITORY:TAG column.
func TestImagesTableColumns(t *testing.T) {
	root := busyboxStore(t)
	mustImg(t, root, "tag", "busybox", "localhost:5000/a/b:v1")
	lines := strings.Split(strings.TrimSpace(mustImg(t, root, "images")), "\n")
	if len(lines) != 3 || strings.Join(strings.Fields(lines[0]), " ") != "REPOSITORY TAG IMAGE ID CREATED SIZE" {
		t.Fatalf("images:\n%s", strings.Join(lines, "\n"))
	}
	id := strings.TrimSpace(mustImg(t, root, "images", "-q", "busybox"))
	for i, want := range [][2]string{{"busybox", "latest"}, {"localhost:5000/a/b", "v1"}} {
		f := strings.Fields(lines[1+i])
		if len(f) < 3 || f[0] != want[0] || f[1] != want[1] || f[2] != id {
			t.Errorf("row %d: %q, want %s %s %s", i, lines[1+i], want[0], want[1], id)
		}
	}
	// --no-trunc: podman 4.3 prints the whole digest with its algorithm
	// in images' table, -q and {{.ID}} (was the bare hex).
	full := strings.TrimSpace(mustImg(t, root, "images", "-q", "--no-trunc", "busybox"))
	if !strings.HasPrefix(full, "sha256:"+id) || len(full) != len("sha256:")+64 {
		t.Errorf("images -q --no-trunc: %q, want sha256:%s...", full, id)
	}
	if got := strings.TrimSpace(mustImg(t, root, "images", "--no-trunc", "--format", "{{.ID}}", "busybox")); got != full {
		t.Errorf("images --no-trunc {{.ID}}: %q, want %q", got, full)
	}
	if f := strings.Fields(strings.Split(mustImg(t, root, "images", "--no-trunc", "busybox"), "\n")[1]); len(f) < 3 || f[2] != full {
		t.Errorf("images --no-trunc table: %q, want %s third", f, full)
	}
}

// inspect -f, as podman users script it: {{.State.Pid}}, {{.State.Status}},
// {{.State.Running}}, {{.NetworkSettings.IPAddress}}, {{.Id}} of a
// container and {{.Id}} of an image; an unknown key is an error. Before,
// -f/--format was an unknown flag.
func TestInspectFormat(t *testing.T) {
	root := runEnv(t)
	mustImg(t, root, "run", "-d", "--name", "insp", "busybox", "sleep", "1000")
	c := inspectCtr(t, root, "insp")
	defer func() {
		mustImg(t, root, "rm", "-f", "insp")
		noTraces(t, root, c)
	}()
	f := strings.Fields(mustImg(t, root, "inspect", "-f", "{{.State.Pid}} {{.State.Status}} {{.State.Running}} {{.Id}} {{.NetworkSettings.IPAddress}}", "insp"))
	if len(f) != 5 || f[1] != "running" || f[2] != "true" || f[3] != c.ID || !strings.HasPrefix(f[4], "10.89.") {
		t.Fatalf("inspect -f of a running container: %q", f)
	}
	if comm, err := os.ReadFile("/proc/" + f[0] + "/comm"); err != nil || strings.TrimSpace(string(comm)) != "sleep" {
		t.Fatalf("State.Pid %s: %q %v", f[0], comm, err)
	}
	id := strings.TrimSpace(mustImg(t, root, "images", "-q", "--no-trunc", "busybox"))
	if got := strings.TrimSpace(mustImg(t, root, "inspect", "--format", "{{.Id}}", "busybox")); !strings.HasSuffix(id, got) || got == "" {
		t.Fatalf("image {{.Id}}: %q, images -q: %q", got, id)
	}
	if out, err := myimg(t, root, "inspect", "-f", "{{.Nope}}", "busybox"); err == nil || !strings.Contains(out, "Nope") {
		t.Fatalf("unknown key: %v %s", err, out)
	}
	mustImg(t, root, "stop", "insp")
	if out := strings.TrimSpace(mustImg(t, root, "inspect", "-f", "{{.State.Status}} {{.State.Running}} {{.State.Pid}} [{{.NetworkSettings.IPAddress}}]", "insp")); !strings.HasPrefix(out, "exited false 0 []") {
		t.Fatalf("inspect -f of a stopped container: %q", out)
	}
}

// rm -a removes every container, as podman rm -a: running ones only
// with -f; images stay. Before, rm -a was rmi -a: the containers stayed
// and every image went.
func TestRmAllContainers(t *testing.T) {
	root := runEnv(t)
	mustImg(t, root, "run", "--name", "done", "--net", "none", "busybox", "true")
	mustImg(t, root, "run", "-d", "--name", "up", "--net", "none", "busybox", "sleep", "1000")
	done, up := inspectCtr(t, root, "done"), inspectCtr(t, root, "up")
	defer myimg(t, root, "rm", "-f", "up", "done")
	if out, err := myimg(t, root, "rm", "-a", "up"); err == nil || !strings.Contains(out, "no container names") {
		t.Fatalf("rm -a NAME: %v %s", err, out)
	}
	if out, err := myimg(t, root, "rm", "-a"); err == nil || !strings.Contains(out, up.ID[:12]+" is running") {
		t.Fatalf("rm -a with a running container: %v %s", err, out)
	}
	if out := mustImg(t, root, "ps", "-a", "-q", "--no-trunc"); strings.TrimSpace(out) != up.ID {
		t.Fatalf("after rm -a: ps -a %q, want the running one only", out)
	}
	mustImg(t, root, "rm", "-af")
	// The runtime's state dir is shared: noTraces can only read it empty
	// once both are gone.
	noTraces(t, root, done)
	noTraces(t, root, up)
	if out := mustImg(t, root, "images", "-q"); strings.TrimSpace(out) == "" {
		t.Fatal("rm -a removed the images")
	}
}
