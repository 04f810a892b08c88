//go:build integration

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// --cache-to writes the build cache to an OCI layout; --cache-from in a
// fresh store reuses it: no RUN runs and the image ID is the same. A
// tampered layer blob in the layout is refused (the step runs again).
func TestBuildCacheLayout(t *testing.T) {
	rootA := busyboxStore(t)
	rootB := busyboxStore(t)
	rootC := busyboxStore(t)
	ctx := t.TempDir()
	os.WriteFile(filepath.Join(ctx, "Containerfile"), []byte("FROM busybox\nCOPY f /f\nRUN x=ran; echo $x-the-step; echo made > /made\nENV DONE=1\n"), 0o644)
	os.WriteFile(filepath.Join(ctx, "f"), []byte("input\n"), 0o644)
	layout := filepath.Join(t.TempDir(), "cache")
	build := func(root string, extra ...string) string {
		t.Helper()
		args := append([]string{"build", "--cgroup-parent", cgroupP, "-t", "cached"}, extra...)
		return mustImg(t, root, append(args, ctx)...)
	}
	idOf := func(out string) string {
		lines := strings.Split(strings.TrimSpace(out), "\n")
		return lines[len(lines)-1]
	}
	a := build(rootA, "--cache-to", "oci:"+layout)
	if !strings.Contains(a, "ran-the-step") {
		t.Fatalf("first build did not run the step:\n%s", a)
	}
	if _, err := os.Stat(filepath.Join(layout, "oci-layout")); err != nil {
		t.Fatalf("--cache-to wrote no OCI layout: %v", err)
	}
	b := build(rootB, "--cache-from", "type=local,src="+layout)
	if strings.Contains(b, "ran-the-step") || strings.Count(b, "Using cache") != 2 {
		t.Fatalf("--cache-from: the steps were not taken from the layout:\n%s", b)
	}
	if idOf(a) != idOf(b) {
		t.Fatalf("image IDs differ: %s vs %s", idOf(a), idOf(b))
	}
	if got := imageFile(t, rootB, "cached", "made"); got != "made\n" {
		t.Fatalf("cached layer content: %q", got)
	}
	// --no-cache reads no cache, from the layout either.
	if out := build(rootB, "--no-cache", "--cache-from", "oci:"+layout); !strings.Contains(out, "ran-the-step") {
		t.Fatalf("--no-cache used the layout:\n%s", out)
	}
	// Tamper with every layer blob of the layout: it fails verification,
	// so the step runs again rather than using it.
	var idx struct{ Manifests []struct{ Digest string } }
	ib, _ := os.ReadFile(filepath.Join(layout, "index.json"))
	json.Unmarshal(ib, &idx)
	var m struct{ Layers []struct{ Digest string } }
	mb, _ := os.ReadFile(filepath.Join(layout, "blobs/sha256", strings.TrimPrefix(idx.Manifests[0].Digest, "sha256:")))
	json.Unmarshal(mb, &m)
	if len(m.Layers) != 2 {
		t.Fatalf("cache manifest has %d layers, want 2 (COPY, RUN):\n%s", len(m.Layers), mb)
	}
	for _, l := range m.Layers {
		f, _ := os.OpenFile(filepath.Join(layout, "blobs/sha256", strings.TrimPrefix(l.Digest, "sha256:")), os.O_WRONLY|os.O_APPEND, 0)
		f.Write([]byte("x"))
		f.Close()
	}
	c := build(rootC, "--cache-from", "oci:"+layout)
	if !strings.Contains(c, "ran-the-step") || !strings.Contains(c, "[Warning] --cache-from: layer") {
		t.Fatalf("a tampered cache layer was used:\n%s", c)
	}
	for _, bad := range [][]string{{"--cache-from", "./relative"}, {"--cache-to", "type=local,src=" + layout}, {"--cache-to", "type=gha"}} {
		if out, err := myimg(t, rootA, append([]string{"build"}, append(bad, ctx)...)...); err == nil || !strings.Contains(out, bad[0]) {
			t.Fatalf("build %v: want an error naming %s: %v\n%s", bad, bad[0], err, out)
		}
	}
}

// --cache-to/--cache-from a registry (Debian's docker-registry on
// loopback): the cache artifact is pushed and pulled with the push/pull
// TLS rules; a fresh store runs no RUN. A missing cache is a warning.
func TestBuildCacheRegistry(t *testing.T) {
	addr := startRegistry(t)
	rootA := busyboxStore(t)
	rootB := busyboxStore(t)
	ctx := t.TempDir()
	os.WriteFile(filepath.Join(ctx, "Containerfile"), []byte("FROM busybox\nRUN x=ran; echo $x-the-step; echo made > /made\n"), 0o644)
	ref := addr + "/myimg/cache:build"
	build := func(root string, extra ...string) (string, error) {
		args := append([]string{"build", "--cgroup-parent", cgroupP, "--tls-verify=false", "-t", "rc"}, extra...)
		return myimg(t, root, append(args, ctx)...)
	}
	if out, err := build(rootA, "--cache-from", ref); err != nil || !strings.Contains(out, "[Warning] --cache-from "+ref) {
		t.Fatalf("a missing registry cache: want a warning: %v\n%s", err, out)
	}
	if out, err := myimg(t, rootA, "build", "--cgroup-parent", cgroupP, "--cache-to", ref, ctx); err == nil || !strings.Contains(out, "plain HTTP is refused") {
		t.Fatalf("--cache-to over plain HTTP without --tls-verify=false: %v\n%s", err, out)
	}
	if out, err := build(rootA, "--cache-to", ref); err != nil {
		t.Fatalf("--cache-to registry: %v\n%s", err, out)
	}
	out, err := build(rootB, "--cache-from", "type=registry,ref="+ref)
	if err != nil || strings.Contains(out, "ran-the-step") || !strings.Contains(out, "Using cache") {
		t.Fatalf("--cache-from registry did not reuse the step: %v\n%s", err, out)
	}
	if got := imageFile(t, rootB, "rc", "made"); got != "made\n" {
		t.Fatalf("cached layer content: %q", got)
	}
}

// A --cache-to registry that is down or refuses the push fails the build
// with an error naming --cache-to and the reference, and leaves no image:
// the cache is exported before the image is committed, so neither the tag
// nor an untagged image exists, and nothing is left in ingest. The step
// records themselves are complete and stay (a rebuild uses them).
func TestBuildCacheToRegistryFailure(t *testing.T) {
	root := busyboxStore(t)
	ctx := t.TempDir()
	os.WriteFile(filepath.Join(ctx, "Containerfile"), []byte("FROM busybox\nRUN echo made > /made\n"), 0o644)
	before := mustImg(t, root, "images", "-q")
	// A read-only registry answers but refuses every upload.
	ro := startRegistryConf(t, "  maintenance:\n    readonly:\n      enabled: true\n")
	for _, ref := range []string{freePort(t) + "/myimg/cache:down", ro + "/myimg/cache:refused"} {
		out, err := myimg(t, root, "build", "--cgroup-parent", cgroupP, "--tls-verify=false", "-t", "cachefail", "--cache-to", ref, ctx)
		if err == nil || !strings.Contains(out, "--cache-to "+ref+": ") {
			t.Fatalf("--cache-to %s: want an error naming it: %v\n%s", ref, err, out)
		}
		t.Logf("%s", out)
		if strings.Contains(out, "COMMIT") || strings.Contains(out, "Successfully tagged") {
			t.Fatalf("--cache-to %s failed after the commit:\n%s", ref, out)
		}
		if out, err := myimg(t, root, "inspect", "cachefail"); err == nil {
			t.Fatalf("a failed --cache-to left the tag:\n%s", out)
		}
		if after := mustImg(t, root, "images", "-q"); after != before {
			t.Fatalf("a failed --cache-to left an image: before\n%s\nafter\n%s", before, after)
		}
		if ents, _ := os.ReadDir(filepath.Join(root, "ingest")); len(ents) != 0 {
			t.Fatalf("a failed --cache-to left %d entries in ingest", len(ents))
		}
	}
	if out, err := myimg(t, root, "build", "--cgroup-parent", cgroupP, "-t", "cachefail", ctx); err != nil || !strings.Contains(out, "Using cache") {
		t.Fatalf("the step records of the failed build: %v\n%s", err, out)
	}
}

// --cache-to with several --platform values exports every platform's
// steps under the one tag (each build used to replace the previous
// export, leaving only the last platform's): a fresh store with
// --cache-from takes every step of both platforms from it.
func TestBuildCacheMultiPlatform(t *testing.T) {
	rootA := busyboxStore(t)
	rootB := busyboxStore(t)
	ctx := t.TempDir()
	os.WriteFile(filepath.Join(ctx, "Containerfile"), []byte("FROM scratch\nARG TARGETARCH\nCOPY f /f-$TARGETARCH\n"), 0o644)
	os.WriteFile(filepath.Join(ctx, "f"), []byte("input\n"), 0o644)
	layout := filepath.Join(t.TempDir(), "cache")
	build := func(root string, extra ...string) string {
		t.Helper()
		args := append([]string{"build", "--cgroup-parent", cgroupP, "--platform", "linux/amd64,linux/arm64", "--manifest", "mp"}, extra...)
		return mustImg(t, root, append(args, ctx)...)
	}
	build(rootA, "--cache-to", "oci:"+layout)
	out := build(rootB, "--cache-from", "oci:"+layout)
	if n := strings.Count(out, "Using cache"); n != 2 {
		t.Fatalf("--cache-from of a two-platform export: %d steps from the cache, want 2 (a COPY per platform):\n%s", n, out)
	}
}
