//go:build integration

package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type imgInspect struct {
	ManifestDigest string
	ImageID        string
	Manifest       struct {
		Layers []struct {
			MediaType string
			Digest    string
		}
	}
}

func inspectImg(t *testing.T, root, ref string) imgInspect {
	t.Helper()
	var in imgInspect
	if err := json.Unmarshal([]byte(mustImg(t, root, "inspect", ref)), &in); err != nil {
		t.Fatal(err)
	}
	return in
}

func registryManifest(t *testing.T, ref string) (string, []string) {
	t.Helper()
	raw := runTool(t, nil, "skopeo", "inspect", "--tls-verify=false", "--raw", "docker://"+ref)
	var m struct {
		Layers []struct{ MediaType, Digest string }
	}
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}
	var types, digests []string
	for _, l := range m.Layers {
		types, digests = append(types, l.MediaType), append(digests, l.Digest)
	}
	return strings.Join(types, ","), digests
}

// A built image's layers stay uncompressed in the store (as buildah's
// and podman's); push gzips them, with a manifest whose digests differ
// from the local ones and the same image ID, which myimg and podman pull
// back. The store remembers the compressed digests: a second push to
// another repository neither compresses nor uploads (it mounts), and a
// push of the same image again sends nothing. --compression-format zstd
// and -D (--disable-compression) choose otherwise; save's OCI formats
// gzip as podman's do (--uncompressed keeps them), docker-archive holds
// plain tars.
func TestPushCompressesUncompressedLayers(t *testing.T) {
	needTools(t, "skopeo", "podman")
	addr := startRegistry(t)
	root := filepath.Join(t.TempDir(), "s")
	rnd := make([]byte, 300000)
	rand.Read(rnd)
	files := map[string]string{"f": base64.StdEncoding.EncodeToString(rnd)}
	cf := "FROM scratch\nCOPY f /f\nCOPY f /g\n"
	if out, err := buildCtx(t, root, "comp", cf, files, "--timestamp", "1"); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	local := inspectImg(t, root, "comp")
	for _, l := range local.Manifest.Layers {
		if l.MediaType != "application/vnd.oci.image.layer.v1.tar" {
			t.Fatalf("built layer stored as %s, want the uncompressed application/vnd.oci.image.layer.v1.tar", l.MediaType)
		}
	}
	// The image ID does not depend on how the store keeps the layers.
	rootGz := filepath.Join(t.TempDir(), "gz")
	if out, err := buildCtx(t, rootGz, "comp", cf, files, "--timestamp", "1", "--compression", "gzip"); err != nil {
		t.Fatalf("build --compression gzip: %v\n%s", err, out)
	}
	gz := inspectImg(t, rootGz, "comp")
	if gz.ImageID != local.ImageID || gz.Manifest.Layers[0].MediaType != "application/vnd.oci.image.layer.v1.tar+gzip" {
		t.Fatalf("--compression gzip: image %s layer %s, want image %s gzip", gz.ImageID, gz.Manifest.Layers[0].MediaType, local.ImageID)
	}
	ref := addr + "/comp/a:1"
	out := mustImg(t, root, "push", "--tls-verify=false", "comp", ref)
	if strings.Count(out, "Compressing blob") != 2 {
		t.Errorf("first push: want two layers compressed:\n%s", out)
	}
	types, digests := registryManifest(t, ref)
	if types != "application/vnd.oci.image.layer.v1.tar+gzip,application/vnd.oci.image.layer.v1.tar+gzip" {
		t.Fatalf("pushed layer types %s", types)
	}
	// Not the local digests; the same gzip bytes as a --compression gzip
	// build's (one deterministic encoder).
	for i, d := range digests {
		if d == local.Manifest.Layers[i].Digest || d != gz.Manifest.Layers[i].Digest {
			t.Errorf("pushed layer %d is %s: local %s, --compression gzip %s", i, d, local.Manifest.Layers[i].Digest, gz.Manifest.Layers[i].Digest)
		}
	}
	root2 := filepath.Join(t.TempDir(), "s2")
	mustImg(t, root2, "pull", "--tls-verify=false", ref)
	back := inspectImg(t, root2, ref)
	if back.ImageID != local.ImageID || back.ManifestDigest == local.ManifestDigest || back.Manifest.Layers[0].MediaType != "application/vnd.oci.image.layer.v1.tar+gzip" {
		t.Fatalf("pulled back: %+v\nlocal: %+v", back, local)
	}
	// A pulled (gzip) image goes back as it is: the same manifest bytes.
	mustImg(t, root2, "push", "--tls-verify=false", ref, addr+"/comp/again:1")
	if a, b := runTool(t, nil, "skopeo", "inspect", "--tls-verify=false", "--raw", "docker://"+ref), runTool(t, nil, "skopeo", "inspect", "--tls-verify=false", "--raw", "docker://"+addr+"/comp/again:1"); a != b {
		t.Errorf("push of a pulled image changed its manifest:\n%s\n%s", a, b)
	}
	env, pg := podmanEnv(t)
	runTool(t, env, "podman", append(pg, "pull", "--tls-verify=false", "-q", ref)...)
	if id := runTool(t, env, "podman", append(pg, "image", "inspect", "--format", "{{.Id}}", ref)...); strings.TrimSpace(id) != local.ImageID {
		t.Errorf("podman sees image %s, want %s", id, local.ImageID)
	}
	// Another repository: the blobs are mounted, nothing is compressed.
	ref2 := addr + "/comp/b:1"
	out = mustImg(t, root, "push", "--tls-verify=false", "comp", ref2)
	if strings.Contains(out, "Compressing") || strings.Count(out, "skipped: mounted") != 2 {
		t.Errorf("second push: want both layers mounted, none compressed:\n%s", out)
	}
	if _, d2 := registryManifest(t, ref2); strings.Join(d2, ",") != strings.Join(digests, ",") {
		t.Errorf("second push: layers %v, want the first push's %v", d2, digests)
	}
	if out = mustImg(t, root, "push", "--tls-verify=false", "comp", ref); strings.Contains(out, "Compressing") || strings.Contains(out, "Copying blob") {
		t.Errorf("push of the same image again: want nothing sent:\n%s", out)
	}
	// Another image sharing the two layers: only its own is compressed.
	if out, err := buildCtx(t, root, "comp2", "FROM comp\nCOPY f /h\n", files, "--timestamp", "2"); err != nil {
		t.Fatalf("build comp2: %v\n%s", err, out)
	}
	if out = mustImg(t, root, "push", "--tls-verify=false", "comp2", addr+"/comp/c:1"); strings.Count(out, "Compressing blob") != 1 || strings.Count(out, "skipped: mounted") != 2 {
		t.Errorf("push of an image sharing two layers: want one compressed, two mounted:\n%s", out)
	}
	pushVariants(t, root, addr, local)
	saveVariants(t, root)
}

func pushVariants(t *testing.T, root, addr string, local imgInspect) {
	t.Helper()
	ref := addr + "/comp/z:1"
	mustImg(t, root, "push", "--tls-verify=false", "--compression-format", "zstd", "comp", ref)
	if types, _ := registryManifest(t, ref); !strings.HasPrefix(types, "application/vnd.oci.image.layer.v1.tar+zstd") {
		t.Errorf("--compression-format zstd: %s", types)
	}
	ref = addr + "/comp/plain:1"
	mustImg(t, root, "push", "--tls-verify=false", "-D", "comp", ref)
	if types, digests := registryManifest(t, ref); !strings.HasPrefix(types, "application/vnd.oci.image.layer.v1.tar,") || digests[0] != local.Manifest.Layers[0].Digest {
		t.Errorf("--disable-compression: %s %v", types, digests)
	}
	for _, bad := range [][]string{{"--compression-format", "lz4"}, {"--compression-level", "12"}, {"-D", "--compression-format", "zstd"}} {
		if out, err := myimg(t, root, append(append([]string{"push", "--tls-verify=false"}, bad...), "comp", addr+"/comp/bad:1")...); err == nil || !strings.Contains(out, strings.TrimPrefix(bad[len(bad)-2], "-")) {
			t.Errorf("push %v: want an error naming %s: %v\n%s", bad, bad[len(bad)-2], err, out)
		}
	}
}

func saveVariants(t *testing.T, root string) {
	t.Helper()
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "application/vnd.oci.image.layer.v1.tar+gzip"},
		{[]string{"--uncompressed"}, "application/vnd.oci.image.layer.v1.tar"},
	} {
		dir := filepath.Join(t.TempDir(), "oci")
		mustImg(t, root, append(append([]string{"save", "--format", "oci-dir", "-o", dir}, c.args...), "comp")...)
		root3 := filepath.Join(t.TempDir(), "s3")
		mustImg(t, root3, "pull", "oci:"+dir+":comp")
		if got := inspectImg(t, root3, "comp").Manifest.Layers[0].MediaType; got != c.want {
			t.Errorf("save --format oci-dir %v: layer %s, want %s", c.args, got, c.want)
		}
	}
	arch := filepath.Join(t.TempDir(), "d.tar")
	mustImg(t, root, "save", "--format", "docker-archive", "-o", arch, "comp")
	if b, err := os.ReadFile(arch); err != nil || !strings.Contains(string(b), "manifest.json") {
		t.Fatalf("docker-archive: %v", err)
	}
}
