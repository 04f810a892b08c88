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
