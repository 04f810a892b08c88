package store

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestBlobVerify(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.PutBytes("x", []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := s.ReadBlob(d); err != nil || string(b) != "hello" {
		t.Fatalf("ReadBlob = %q, %v", b, err)
	}
	// Wrong size in the descriptor.
	bad := d
	bad.Size = 4
	if _, err := s.ReadBlob(bad); !errors.Is(err, ErrVerify) {
		t.Fatalf("size mismatch not caught: %v", err)
	}
	// Content changed on disk behind our back.
	if err := os.WriteFile(s.BlobPath(d.Digest), []byte("jello"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadBlob(d); !errors.Is(err, ErrVerify) {
		t.Fatalf("digest mismatch not caught: %v", err)
	}
}

func TestPutBlobExpectedMismatchStoresNothing(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	want := ocispec.Descriptor{Digest: digest.FromString("other"), Size: 5}
	if _, err := s.PutBlob(bytes.NewReader([]byte("hello")), "x", &want); err == nil {
		t.Fatal("mismatching blob accepted")
	}
	want = ocispec.Descriptor{Digest: digest.FromString("hello"), Size: 6}
	if _, err := s.PutBlob(bytes.NewReader([]byte("hello")), "x", &want); err == nil {
		t.Fatal("wrong size accepted")
	}
	ents, _ := os.ReadDir(s.Root + "/blobs/sha256")
	if len(ents) != 0 {
		t.Fatalf("store changed: %v", ents)
	}
	ents, _ = os.ReadDir(s.Root + "/ingest")
	if len(ents) != 0 {
		t.Fatalf("temp files left: %v", ents)
	}
}

func TestTagResolveUntag(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.PutImage(Image{RootFS: ocispec.RootFS{Type: "layers"}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Tag("foo", d); err != nil {
		t.Fatal(err)
	}
	if err := s.Tag("foo:v2", d); err != nil {
		t.Fatal(err)
	}
	if err := s.Tag("foo", d); err != nil { // retag replaces, no duplicate
		t.Fatal(err)
	}
	refs, _ := s.List()
	if len(refs) != 2 || refs[0].Name != "foo:latest" || refs[1].Name != "foo:v2" {
		t.Fatalf("refs = %+v", refs)
	}
	for _, r := range []string{"foo", "foo:latest", d.Digest.String(), d.Digest.Encoded()[:8]} {
		got, err := s.Resolve(r)
		if err != nil || got.Digest != d.Digest {
			t.Fatalf("Resolve(%q) = %v, %v", r, got.Digest, err)
		}
	}
	if _, err := s.Resolve("bar"); err == nil {
		t.Fatal("unknown name resolved")
	}
	// The image ID (config digest), full or short, as build -q prints it.
	l, err := s.Load(d)
	if err != nil {
		t.Fatal(err)
	}
	id := l.Manifest.Config.Digest.Encoded()
	for _, r := range []string{id, id[:12], "sha256:" + id} {
		if got, err := s.Resolve(r); err != nil || got.Digest != d.Digest {
			t.Fatalf("Resolve(image id %q) = %v, %v", r, got.Digest, err)
		}
	}
	if _, err := s.Load(d); err != nil {
		t.Fatal(err)
	}
	if err := s.Untag("foo"); err != nil {
		t.Fatal(err)
	}
	if err := s.Untag("foo"); err == nil {
		t.Fatal("untag of a missing name succeeded")
	}
	res, err := s.Prune(true)
	if err != nil {
		t.Fatal(err)
	}
	if res.Blobs != 0 {
		t.Fatalf("prune removed blobs of a named image: %+v", res)
	}
	s.Untag("foo:v2")
	if res, _ = s.Prune(true); res.Blobs != 2 {
		t.Fatalf("prune = %+v, want manifest and config gone", res)
	}
}

func TestVerifierStream(t *testing.T) {
	d := ocispec.Descriptor{Digest: digest.FromString("abc"), Size: 3}
	if _, err := io.ReadAll(NewVerifier(io.NopCloser(bytes.NewReader([]byte("abc"))), d)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(NewVerifier(io.NopCloser(bytes.NewReader([]byte("abcd"))), d)); err == nil {
		t.Fatal("long stream accepted")
	}
	if _, err := io.ReadAll(NewVerifier(io.NopCloser(bytes.NewReader([]byte("ab"))), d)); err == nil {
		t.Fatal("short stream accepted")
	}
}

// Open removes what a killed writer left in ingest (blob temp files and
// temp directories named for a dead owner) and keeps a live writer's, and
// a dead one's held directory (left to CleanStaleIngest).
func TestOpenCleansStaleTemps(t *testing.T) {
	root := t.TempDir()
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	ingest := filepath.Join(root, ingestDir)
	live, err := s.NewIngest()
	if err != nil {
		t.Fatal(err)
	}
	defer live.Abort()
	liveDir, err := s.TempDir("unpack-*")
	if err != nil {
		t.Fatal(err)
	}
	deadHeld := filepath.Join(ingest, "build-held")
	if err := os.MkdirAll(deadHeld, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{ownerFile: "999999999 12345", HoldFile: ""} {
		if err := os.WriteFile(filepath.Join(deadHeld, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	deadFile := filepath.Join(ingest, blobTempPrefix+"999999999.12345-1")
	deadDir := filepath.Join(ingest, "build-dead")
	untagged := filepath.Join(ingest, "blob-123")
	for _, f := range []string{deadFile, untagged} {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(deadDir, "upper"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(deadDir, ownerFile), []byte("999999999 12345"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(root); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{deadFile, deadDir} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s of a dead writer kept (%v)", filepath.Base(p), err)
		}
	}
	for _, p := range []string{live.f.Name(), liveDir, untagged, deadHeld} {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s removed: %v", filepath.Base(p), err)
		}
	}
}

// A dead owner that nobody reaped yet (a zombie) is not alive.
func TestZombieOwnerIsDead(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	pid := strconv.Itoa(cmd.Process.Pid)
	var stat []byte
	for i := 0; i < 500; i++ {
		stat, _ = os.ReadFile("/proc/" + pid + "/stat")
		if zombie(stat) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !zombie(stat) {
		t.Fatalf("child never became a zombie: %s", stat)
	}
	if alive(pid, startTimeOf(stat)) {
		t.Fatal("a zombie owner counts as alive")
	}
	self, _ := os.ReadFile("/proc/self/stat")
	if !alive(strconv.Itoa(os.Getpid()), startTimeOf(self)) {
		t.Fatal("this process does not count as alive")
	}
}

// A failed import takes out the blobs it added, unless another writer is
// at work (it may be about to reference them) or something references them.
func TestImportRollback(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	put := func(body string) ocispec.Descriptor {
		d, err := s.PutBytes("application/octet-stream", []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	end, err := s.Import()
	if err != nil {
		t.Fatal(err)
	}
	kept := put("referenced")
	gone := put("orphan")
	if err := s.Tag("r", kept); err != nil {
		t.Fatal(err)
	}
	end(true)
	if !s.HasBlob(kept) || s.HasBlob(gone) {
		t.Fatalf("after a failed import: referenced %v (want true), orphan %v (want false)", s.HasBlob(kept), s.HasBlob(gone))
	}

	end, _ = s.Import()
	ok := put("success")
	end(false)
	if !s.HasBlob(ok) {
		t.Fatal("a successful import lost its blob")
	}

	other, err := s.WriterLock() // another writer at work
	if err != nil {
		t.Fatal(err)
	}
	end, _ = s.Import()
	busy := put("while another writer runs")
	end(true)
	other()
	if !s.HasBlob(busy) {
		t.Fatal("blob removed while another writer held the lock")
	}
}

// An untagged image (a build without -t) is listed without a name, found
// by its ID, folded into a later tag, and dropped by prune.
func TestUntaggedKeptUntilPrune(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.PutImage(Image{RootFS: ocispec.RootFS{Type: "layers"}, Author: "u"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddUntagged(d); err != nil {
		t.Fatal(err)
	}
	if err := s.AddUntagged(d); err != nil {
		t.Fatal(err)
	}
	refs, _ := s.List()
	if len(refs) != 1 || refs[0].Name != "" {
		t.Fatalf("refs %+v", refs)
	}
	l, _ := s.Load(d)
	if got, err := s.Resolve(l.Manifest.Config.Digest.Encoded()[:12]); err != nil || got.Digest != d.Digest {
		t.Fatalf("by ID: %v %v", got, err)
	}
	if _, err := s.Resolve(""); err == nil {
		t.Fatal("the empty name resolved")
	}
	res, err := s.Prune(false)
	if err != nil || res.Untagged != 1 || res.Blobs == 0 {
		t.Fatalf("prune: %+v %v", res, err)
	}
	if refs, _ := s.List(); len(refs) != 0 {
		t.Fatalf("after prune: %+v", refs)
	}
	// Tagging an untagged image replaces its entry.
	d, _ = s.PutImage(Image{RootFS: ocispec.RootFS{Type: "layers"}, Author: "v"}, nil, nil)
	s.AddUntagged(d)
	if err := s.Tag("named", d); err != nil {
		t.Fatal(err)
	}
	if refs, _ := s.List(); len(refs) != 1 || refs[0].Name != "named:latest" {
		t.Fatalf("after tag: %+v", refs)
	}
}
