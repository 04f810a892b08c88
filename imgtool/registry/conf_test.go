package registry

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/myrun-org/myrun/imgtool/store"
)

func writeConf(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "registries.conf")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CONTAINERS_REGISTRIES_CONF", p)
	return p
}

func TestConfMatching(t *testing.T) {
	writeConf(t, `
unqualified-search-registries = ["docker.io"]

[[registry]]
location = "127.0.0.1:5000"
insecure = true

[[registry]]
prefix = "127.0.0.1:5000/secure"
location = "127.0.0.1:5000/secure"

[[registry]]
location = "*.lan"
insecure = true

[[registry]]
location = "docker.io/library/busybox"
blocked = true

[[registry.mirror]]
location = "mirror.example"
`)
	c, err := LoadConf()
	if err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[string]string{
		"127.0.0.1:5000/a/b:1":               "insecure",
		"127.0.0.1:50000/a:1":                "",
		"127.0.0.1:5000/secure/x:1":          "",
		"127.0.0.1:5000/securex/x:1":         "insecure",
		"reg.lan/x:1":                        "insecure",
		"reg.lan:443/x@sha256:00":            "insecure",
		"lan/x:1":                            "",
		"index.docker.io/library/busybox:1":  "blocked",
		"index.docker.io/library/busyboxy:1": "",
		"example.com/x:1":                    "",
	} {
		got := ""
		if e := c.find(ref); e != nil && e.Insecure {
			got = "insecure"
		} else if e != nil && e.Blocked {
			got = "blocked"
		}
		if got != want {
			t.Errorf("%s: got %q, want %q", ref, got, want)
		}
	}
}

func TestConfErrors(t *testing.T) {
	for body, want := range map[string]string{
		"[[registry]]\ninsecure = true\n":      "registry[0]: neither location nor prefix",
		"[[registry]]\nlocation = \"a.*.b\"\n": `prefix "a.*.b"`,
		"[[registry]\n":                        "registries.conf",
		"[registries.insecure]\nregistries=[\"a\"]\n[[registry]]\nlocation=\"b\"\n": "mixes the version 1",
	} {
		writeConf(t, body)
		if _, err := LoadConf(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", body, err, want)
		}
	}
	t.Setenv("CONTAINERS_REGISTRIES_CONF", "/nonexistent/registries.conf")
	if _, err := LoadConf(); err == nil || !strings.Contains(err.Error(), "/nonexistent/registries.conf") {
		t.Errorf("missing explicit file: %v", err)
	}
	// In both version 1 lists: one entry, insecure and blocked.
	writeConf(t, "[registries.insecure]\nregistries = [\"a.io\"]\n[registries.block]\nregistries = [\"a.io\"]\n")
	if c, err := LoadConf(); err != nil || c.find("a.io/x:1") == nil || !c.find("a.io/x:1").Insecure || !c.find("a.io/x:1").Blocked {
		t.Errorf("version 1 insecure and blocked: %v", err)
	}
	writeConf(t, "[registries.insecure]\nregistries = [\"10.0.0.1:5000\"]\n")
	if c, err := LoadConf(); err != nil || c.find("10.0.0.1:5000/x:1") == nil || !c.find("10.0.0.1:5000/x:1").Insecure {
		t.Errorf("version 1 insecure list: %v", err)
	}
}

// A plain HTTP registry on loopback: refused (and never sent a request
// over HTTP) unless --tls-verify=false or registries.conf allows it.
func TestPlainHTTPNeedsConsent(t *testing.T) {
	var plain atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		plain.Add(1)
		http.Error(w, "no", http.StatusNotFound)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ref := host + "/x/y:1"
	_, err = Pull(s, ref, Options{TLSVerify: true})
	if err == nil || !strings.Contains(err.Error(), "plain HTTP is refused: use --tls-verify=false, or mark it insecure") || plain.Load() != 0 {
		t.Fatalf("default: %d plain requests, %v", plain.Load(), err)
	}
	p := writeConf(t, "[[registry]]\nlocation = \""+host+"\"\ninsecure = true\n")
	c, err := LoadConf()
	if err != nil {
		t.Fatal(err)
	}
	if _, err = Pull(s, ref, Options{TLSVerify: true, TLSVerifySet: true, Conf: c}); err == nil || !strings.Contains(err.Error(), "explicit --tls-verify=true") || plain.Load() != 0 {
		t.Fatalf("explicit --tls-verify=true: %d plain requests, %v", plain.Load(), err)
	}
	// Allowed: the request reaches the server (which says 404).
	for _, o := range []Options{{TLSVerify: false}, {TLSVerify: true, Conf: c}} {
		before := plain.Load()
		_, err := Pull(s, ref, o)
		if err == nil || strings.Contains(err.Error(), "refused") || plain.Load() == before {
			t.Fatalf("%+v (%s): %v", o, p, err)
		}
	}
}

func TestQualifyAndSources(t *testing.T) {
	writeConf(t, `
unqualified-search-registries = ["reg.one"]
[aliases]
"al" = "reg.two/team/al"
[[registry]]
location = "reg.one"
[[registry.mirror]]
location = "mirror.lan:5000/one"
insecure = true
[[registry]]
prefix = "reg.two/team"
location = "reg.three/t"
mirror-by-digest-only = true
[[registry.mirror]]
location = "m2.lan"
`)
	c, err := LoadConf()
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"bb:1": "reg.one/bb:1", "lib/bb": "reg.one/lib/bb", "al:2": "reg.two/team/al:2", "al@sha256:ab": "reg.two/team/al@sha256:ab",
		"localhost/x": "localhost/x", "h:5000/x": "h:5000/x", "h.io/x:1": "h.io/x:1",
	} {
		got, err := c.Qualify(in)
		if err != nil || strings.Join(got, ",") != want {
			t.Errorf("Qualify(%q) = %v %v, want %s", in, got, err, want)
		}
	}
	src := func(ref string) string {
		var s []string
		for _, x := range c.sources(ref) {
			v := x.ref
			if x.insecure {
				v += "(insecure)"
			}
			s = append(s, v)
		}
		return strings.Join(s, ",")
	}
	for in, want := range map[string]string{
		"reg.one/bb:1":             "mirror.lan:5000/one/bb:1(insecure),reg.one/bb:1",
		"reg.two/team/al:2":        "reg.three/t/al:2",
		"reg.two/team/al@sha256:a": "m2.lan/al@sha256:a,reg.three/t/al@sha256:a",
		"other.io/x":               "other.io/x",
	} {
		if got := src(in); got != want {
			t.Errorf("sources(%q) = %s, want %s", in, got, want)
		}
	}
	c.Search = []string{"a.io", "b.io"}
	if _, err := c.Qualify("x"); err == nil || !strings.Contains(err.Error(), "enforcing") {
		t.Errorf("two search registries, enforcing: %v", err)
	}
	c.Mode = "permissive"
	if got, _ := c.Qualify("x"); strings.Join(got, ",") != "a.io/x,b.io/x" {
		t.Errorf("permissive: %v", got)
	}
	c.Search = []string{"docker.io"}
	if got, _ := c.Qualify("busybox"); got[0] != "docker.io/library/busybox" {
		t.Errorf("docker.io library: %v", got)
	}
	c.Search = nil
	if _, err := c.Qualify("nope"); err == nil || !strings.Contains(err.Error(), "unqualified-search-registries") {
		t.Errorf("no search registries: %v", err)
	}
	writeConf(t, "short-name-mode = \"sometimes\"\n")
	if _, err := LoadConf(); err == nil {
		t.Error("bad short-name-mode accepted")
	}
}

// Keys myimg does not apply are refused naming them (they were decoded
// into nothing: a v1 [registries.search] list, pull-from-mirror, a
// misspelt key); pull-from-mirror and [registries.search] are applied.
func TestConfUnknownKeysPullFromMirror(t *testing.T) {
	for body, want := range map[string]string{
		"unqualified-search-registry = [\"a.io\"]\n":        "not supported by myimg: unqualified-search-registry",
		"[[registry]]\nlocation = \"a.io\"\nblock = true\n": "registry.block",
		"credential-helpers = [\"x\"]\n":                    "credential-helpers",
		"[[registry]]\nlocation = \"a.io\"\n[[registry.mirror]]\nlocation = \"m\"\npull-from-mirror = \"some\"\n":                                   `pull-from-mirror "some"`,
		"[[registry]]\nlocation = \"a.io\"\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = \"m\"\npull-from-mirror = \"tag-only\"\n": "both set",
		"unqualified-search-registries = [\"a.io\"]\n[registries.search]\nregistries = [\"b.io\"]\n":                                                "mixes the version 1",
		"[[registry]]\nlocation = \"a.io\"\n[[registry]]\nlocation = \"a.io\"\ninsecure = true\n":                                                   `registry[0] and registry[1]: location "a.io" given twice with different insecure`,
		"[[registry]]\nlocation = \"a.io\"\nblocked = true\n[[registry]]\nprefix = \"b.io\"\nlocation = \"a.io\"\n":                                 "given twice with different blocked",
		// containers/image refuses these too (were accepted).
		"[registries.search]\nregistries = [\"b.io\"]\n[[registry]]\nlocation = \"a.io\"\n":                "version 2 settings ([[registry]])",
		"[registries.insecure]\nregistries = [\"a.io\"]\n[aliases]\n\"foo\" = \"docker.io/library/foo\"\n": "version 2 settings ([aliases])",
		"short-name-mode = \"permissive\"\n[registries.block]\nregistries = [\"a.io\"]\n":                  "version 2 settings (short-name-mode)",
	} {
		writeConf(t, body)
		if _, err := LoadConf(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", body, err, want)
		}
	}
	writeConf(t, "[registries.search]\nregistries = [\"b.io\"]\n")
	if c, err := LoadConf(); err != nil || strings.Join(c.Search, ",") != "b.io" {
		t.Errorf("version 1 search list: %v %v", c, err)
	}
	// An empty version 1 list makes no version 1 file (containers/image).
	writeConf(t, "unqualified-search-registries = [\"c.io\"]\n[registries.search]\nregistries = []\n")
	if c, err := LoadConf(); err != nil || strings.Join(c.Search, ",") != "c.io" {
		t.Errorf("empty version 1 search list with a version 2 one: %v %v", c, err)
	}
	// A wildcard prefix's location and mirrors replace the host (were
	// ignored: pulled from the host itself), as podman 4.3 does.
	writeConf(t, "[[registry]]\nprefix = \"*.example.com\"\nlocation = \"mirror.lan\"\n[[registry.mirror]]\nlocation = \"m.lan/base\"\n")
	wc, err := LoadConf()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range wc.sources("a.example.com/x/y:1") {
		got = append(got, s.ref)
	}
	if strings.Join(got, ",") != "m.lan/base/x/y:1,mirror.lan/x/y:1" {
		t.Errorf("wildcard sources: %v", got)
	}
	writeConf(t, `
[[registry]]
location = "a.io"
[[registry.mirror]]
location = "dig.lan"
pull-from-mirror = "digest-only"
[[registry.mirror]]
location = "tag.lan"
pull-from-mirror = "tag-only"
[[registry.mirror]]
location = "all.lan"
pull-from-mirror = "all"
`)
	c, err := LoadConf()
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"a.io/x:1":        "tag.lan/x:1,all.lan/x:1,a.io/x:1",
		"a.io/x@sha256:a": "dig.lan/x@sha256:a,all.lan/x@sha256:a,a.io/x@sha256:a",
	} {
		var got []string
		for _, s := range c.sources(in) {
			got = append(got, s.ref)
		}
		if strings.Join(got, ",") != want {
			t.Errorf("sources(%q) = %v, want %s", in, got, want)
		}
	}
}
