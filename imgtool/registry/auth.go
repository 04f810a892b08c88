package registry

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Credentials live where podman keeps them (containers-auth.json(5)):
// --authfile or $REGISTRY_AUTH_FILE; else $XDG_RUNTIME_DIR/containers/
// auth.json, or /run/containers/UID/auth.json without XDG_RUNTIME_DIR.
// Reading falls back to ~/.config/containers/auth.json and Docker's
// ~/.docker/config.json, as podman does.

// AuthFile is the file login writes and logout edits.
func AuthFile(flag string) string {
	if flag != "" {
		return flag
	}
	if f := os.Getenv("REGISTRY_AUTH_FILE"); f != "" {
		return f
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "containers", "auth.json")
	}
	return fmt.Sprintf("/run/containers/%d/auth.json", os.Getuid())
}

func authFiles(flag string) []string {
	files := []string{AuthFile(flag)}
	if flag == "" && os.Getenv("REGISTRY_AUTH_FILE") == "" {
		if home, err := os.UserHomeDir(); err == nil {
			files = append(files, filepath.Join(home, ".config", "containers", "auth.json"), filepath.Join(home, ".docker", "config.json"))
		}
	}
	return files
}

type authEntry struct {
	Auth string `json:"auth,omitempty"`
}

// authConf is an auth.json; unknown keys survive a rewrite.
type authConf struct {
	Auths map[string]json.RawMessage
	rest  map[string]json.RawMessage
}

func readAuthConf(path string) (*authConf, error) {
	c := &authConf{Auths: map[string]json.RawMessage{}, rest: map[string]json.RawMessage{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &c.rest); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if a, ok := c.rest["auths"]; ok {
		if err := json.Unmarshal(a, &c.Auths); err != nil {
			return nil, fmt.Errorf("%s: auths: %w", path, err)
		}
	}
	return c, nil
}

func (c *authConf) write(path string) error {
	a, _ := json.Marshal(c.Auths)
	c.rest["auths"] = a
	b, err := json.MarshalIndent(c.rest, "", "\t")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// lookup finds the credentials for repo (registry/path): the longest
// key that is the registry or a path prefix of the repository, as
// podman's namespaced entries.
func (c *authConf) lookup(registry, repo string) (user, pass string, ok bool) {
	keys := make([]string, 0, len(c.Auths))
	for k := range c.Auths {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return len(keys[i]) > len(keys[j]) })
	for _, k := range keys {
		key := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(k, "https://"), "http://"), "/")
		if registry == "index.docker.io" && (key == "index.docker.io/v1" || key == "docker.io") {
			key = registry
		}
		if key != registry && key != repo && !strings.HasPrefix(repo, key+"/") {
			continue
		}
		var e authEntry
		if json.Unmarshal(c.Auths[k], &e) != nil || e.Auth == "" {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(e.Auth)
		if err != nil {
			continue
		}
		u, p, found := strings.Cut(string(raw), ":")
		if found {
			return u, p, true
		}
	}
	return "", "", false
}

// credentials are the file's for repo: from the credential helper it
// names for the registry, else from its auths.
func (c *authConf) credentials(registry, repo string) (user, pass string, ok bool, err error) {
	h, err := c.helper(registry)
	if err != nil {
		return "", "", false, err
	}
	if h != "" {
		hc, err := helperGet(h, registry)
		if err == nil {
			return hc.Username, hc.Secret, true, nil
		}
		if !errors.Is(err, errNotFound) {
			return "", "", false, err
		}
	}
	user, pass, ok = c.lookup(registry, repo)
	return user, pass, ok, nil
}

// keychain reads the auth files in podman's order.
type keychain struct{ flag string }

func (k keychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	repo := r.String()
	for _, f := range authFiles(k.flag) {
		c, err := readAuthConf(f)
		if err != nil {
			return nil, err
		}
		u, p, ok, err := c.credentials(r.RegistryStr(), repo)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if ok && u == "<token>" {
			// A helper's identity token (Docker's convention).
			return authn.FromConfig(authn.AuthConfig{IdentityToken: p}), nil
		}
		if ok {
			return authn.FromConfig(authn.AuthConfig{Username: u, Password: p}), nil
		}
	}
	return authn.Anonymous, nil
}

// Login checks user and password against registry (its /v2/ endpoint,
// through its token service when it has one) and stores them in the auth
// file, or in the credential helper the file names for the registry. A
// registry that needs no credentials accepts any, as podman's login does.
func Login(registry, user, pass string, o Options) (string, error) {
	registry = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(registry, "https://"), "http://"), "/")
	if registry == "" || strings.ContainsAny(registry, " \t") {
		return "", fmt.Errorf("login: %q is not a registry", registry)
	}
	if user == "" || strings.Contains(user, ":") {
		return "", fmt.Errorf("login: user name %q: must be set and have no ':'", user)
	}
	c, err := o.connect(registry + "/login-check")
	if err != nil {
		return "", fmt.Errorf("login %s: %w", registry, err)
	}
	reg := c.ref.Context().Registry
	auth := authn.FromConfig(authn.AuthConfig{Username: user, Password: pass})
	rt, err := transport.NewWithContext(context.Background(), reg, auth, c.roundTripper(), []string{c.ref.Context().Scope(transport.PullScope)})
	if err != nil {
		return "", fmt.Errorf("login %s: %w", registry, c.explain(err))
	}
	req, _ := http.NewRequest(http.MethodGet, reg.Scheme()+"://"+reg.RegistryStr()+"/v2/", nil)
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return "", fmt.Errorf("login %s: %w", registry, c.explain(err))
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return "", fmt.Errorf("login %s: invalid username/password (%s)", registry, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return "", fmt.Errorf("login %s: /v2/ answered %s", registry, resp.Status)
	}
	path := AuthFile(o.AuthFile)
	conf, err := readAuthConf(path)
	if err != nil {
		return "", err
	}
	h, err := conf.helper(registry)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if h != "" {
		return "docker-credential-" + h, helperStore(h, registry, user, pass)
	}
	e, _ := json.Marshal(map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))})
	conf.Auths[registry] = e
	return path, conf.write(path)
}

// Logout removes the stored credentials of registry (all with ""), in
// the auth file and in the credential helpers it names; false when there
// were none.
func Logout(registry, authFile string) (bool, error) {
	path := AuthFile(authFile)
	conf, err := readAuthConf(path)
	if err != nil {
		return false, err
	}
	if registry == "" {
		had, err := conf.eraseAllHelpers()
		if err != nil {
			return had, err
		}
		if len(conf.Auths) == 0 {
			return had, nil
		}
		conf.Auths = map[string]json.RawMessage{}
		return true, conf.write(path)
	}
	registry = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(registry, "https://"), "http://"), "/")
	h, err := conf.helper(registry)
	if err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	had := false
	if h != "" {
		if had, err = helperErase(h, registry); err != nil {
			return false, err
		}
	}
	if _, ok := conf.Auths[registry]; !ok {
		return had, nil
	}
	delete(conf.Auths, registry)
	return true, conf.write(path)
}

// StoredUser is the user name stored for registry ("" when none).
func StoredUser(registry, authFile string) (string, error) {
	for _, f := range authFiles(authFile) {
		c, err := readAuthConf(f)
		if err != nil {
			return "", err
		}
		u, _, ok, err := c.credentials(registry, registry)
		if err != nil {
			return "", fmt.Errorf("%s: %w", f, err)
		}
		if ok {
			return u, nil
		}
	}
	return "", nil
}
