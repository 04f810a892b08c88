package build

import (
	"archive/tar"
	"bytes"
	"strings"
	"testing"
)

func TestGitURLs(t *testing.T) {
	for s, want := range map[string]bool{
		"https://example.com/r.git": true, "https://example.com/r.git#v1:sub": true, "http://h/r": false,
		"git@github.com:o/r.git": true, "git://h/r": true, "ssh://git@h/r": true, "github.com/o/r": true,
		"file:///srv/r.git": true, "./r.git": false, "https://h/archive.tar.gz": false,
	} {
		if got := IsGitURL(s); got != want {
			t.Errorf("IsGitURL(%q) = %v, want %v", s, got, want)
		}
	}
	for s, want := range map[string][3]string{
		"https://h/r.git":           {"https://h/r.git", "", ""},
		"https://h/r.git#v1":        {"https://h/r.git", "v1", ""},
		"https://h/r.git#:sub/dir":  {"https://h/r.git", "", "sub/dir"},
		"github.com/o/r#main:build": {"https://github.com/o/r", "main", "build"},
	} {
		r, ref, sub := splitGitURL(s)
		if [3]string{r, ref, sub} != want {
			t.Errorf("splitGitURL(%q) = %q %q %q, want %v", s, r, ref, sub, want)
		}
	}
}

func TestTarSniff(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "Containerfile", Mode: 0o644, Size: 2, Typeflag: tar.TypeReg})
	tw.Write([]byte("x\n"))
	tw.Close()
	if !isTarHeader(buf.Bytes()) {
		t.Error("a tar archive was not recognised")
	}
	text := bytes.Repeat([]byte("FROM scratch\nLABEL a=b\n"), 40)
	if isTarHeader(text) {
		t.Error("a Containerfile longer than a tar block was taken for a tar archive")
	}
}

func TestParseCacheRef(t *testing.T) {
	for in, want := range map[string]CacheRef{
		"oci:/c":                  {Dir: "/c", Tag: "buildcache"},
		"oci:/c:v1":               {Dir: "/c", Tag: "v1"},
		"type=local,src=/c":       {Dir: "/c", Tag: "buildcache"},
		"type=local,src=/c,tag=t": {Dir: "/c", Tag: "t"},
		"reg.example/cache":       {Registry: "reg.example/cache"},
		"type=registry,ref=r/c:1": {Registry: "r/c:1"},
	} {
		got, err := ParseCacheRef("--cache-from", in)
		if err != nil || got != want {
			t.Errorf("ParseCacheRef(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []struct{ flag, in, want string }{
		{"--cache-from", "./dir", "want oci:PATH"},
		{"--cache-to", "type=local,src=/c", "src= belongs to --cache-from"},
		{"--cache-to", "type=local,dest=/c,mode=max", "option mode is not supported"},
		{"--cache-to", "type=s3,bucket=x", "type s3 is not supported"},
		{"--cache-to", "type=registry,ref=x,mode=max", "option mode=max is not supported"},
		{"--cache-from", "type=local", "no directory"},
	} {
		if _, err := ParseCacheRef(bad.flag, bad.in); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("ParseCacheRef(%s %q) = %v, want %q", bad.flag, bad.in, err, bad.want)
		}
	}
}
