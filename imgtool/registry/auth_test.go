package registry

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestAuthLookupAndLogout(t *testing.T) {
	enc := func(s string) json.RawMessage {
		b, _ := json.Marshal(map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(s))})
		return b
	}
	c := &authConf{Auths: map[string]json.RawMessage{
		"reg:5000": enc("a:1"), "reg:5000/team": enc("b:2"), "https://index.docker.io/v1/": enc("d:3"),
	}, rest: map[string]json.RawMessage{"credHelpers": json.RawMessage(`{"x":"y"}`)}}
	for _, k := range []struct{ reg, repo, user string }{
		{"reg:5000", "reg:5000/other/img", "a"}, {"reg:5000", "reg:5000/team/img", "b"},
		{"index.docker.io", "index.docker.io/library/busybox", "d"}, {"other", "other/x", ""},
	} {
		if u, _, _ := c.lookup(k.reg, k.repo); u != k.user {
			t.Errorf("%s: user %q, want %q", k.repo, u, k.user)
		}
	}
	p := filepath.Join(t.TempDir(), "sub", "auth.json")
	if err := c.write(p); err != nil {
		t.Fatal(err)
	}
	if had, err := Logout("reg:5000", p); !had || err != nil {
		t.Fatalf("logout: %v %v", had, err)
	}
	if had, _ := Logout("reg:5000", p); had {
		t.Fatal("second logout found credentials")
	}
	b, _ := os.ReadFile(p)
	var back struct{ CredHelpers map[string]string }
	json.Unmarshal(b, &back)
	if back.CredHelpers["x"] != "y" {
		t.Fatalf("unknown keys lost: %s", b)
	}
	if os.Setenv("REGISTRY_AUTH_FILE", "/x/y.json"); AuthFile("") != "/x/y.json" || AuthFile("/f") != "/f" {
		t.Fatal("AuthFile order")
	}
	os.Unsetenv("REGISTRY_AUTH_FILE")
}
