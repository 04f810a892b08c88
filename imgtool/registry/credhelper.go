package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Credential helpers (docker-credential-<name> on PATH), named in an
// auth file by credHelpers (per registry) or credsStore (every other
// registry), as in Docker's config.json and containers-auth.json(5). The
// protocol: the verb is the argument; get and erase read the server on
// stdin, store reads {"ServerURL","Username","Secret"}; get answers that
// JSON; list answers {server: user}. A helper that does not know the
// server says "credentials not found" and exits non-zero.

// errNotFound is a helper's "credentials not found".
var errNotFound = errors.New("credentials not found")

type helperCreds struct {
	ServerURL string `json:"ServerURL"`
	Username  string `json:"Username"`
	Secret    string `json:"Secret"`
}

// helper is the helper the auth file names for registry ("": none).
func (c *authConf) helper(registry string) (string, error) {
	var name string
	if raw, ok := c.rest["credHelpers"]; ok {
		var m map[string]string
		if err := json.Unmarshal(raw, &m); err != nil {
			return "", fmt.Errorf("credHelpers: %w", err)
		}
		name = m[registry]
	}
	if raw, ok := c.rest["credsStore"]; ok && name == "" {
		if err := json.Unmarshal(raw, &name); err != nil {
			return "", fmt.Errorf("credsStore: %w", err)
		}
	}
	if strings.ContainsAny(name, "/ \t\n") {
		return "", fmt.Errorf("credential helper %q: not a helper name", name)
	}
	return name, nil
}

// helperNames are every helper of the file, with the registries
// credHelpers gives them ("" for credsStore: all it lists).
func (c *authConf) helperNames() (map[string][]string, error) {
	out := map[string][]string{}
	if raw, ok := c.rest["credHelpers"]; ok {
		var m map[string]string
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("credHelpers: %w", err)
		}
		for reg, h := range m {
			out[h] = append(out[h], reg)
		}
	}
	if raw, ok := c.rest["credsStore"]; ok {
		var h string
		if err := json.Unmarshal(raw, &h); err != nil {
			return nil, fmt.Errorf("credsStore: %w", err)
		}
		if h != "" {
			out[h] = append(out[h], "")
		}
	}
	return out, nil
}

// runHelper runs docker-credential-<name> verb with input on stdin.
func runHelper(name, verb string, input []byte) ([]byte, error) {
	bin := "docker-credential-" + name
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("credential helper %s: %w", name, err)
	}
	cmd := exec.Command(path, verb)
	cmd.Stdin = bytes.NewReader(input)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(out.String() + " " + stderr.String())
		if strings.Contains(strings.ToLower(msg), "credentials not found") {
			return nil, errNotFound
		}
		return nil, fmt.Errorf("%s %s: %v: %s", bin, verb, err, msg)
	}
	return out.Bytes(), nil
}

// helperGet asks helper name for registry's credentials.
func helperGet(name, registry string) (helperCreds, error) {
	out, err := runHelper(name, "get", []byte(registry))
	if err != nil {
		return helperCreds{}, err
	}
	var c helperCreds
	if err := json.Unmarshal(out, &c); err != nil {
		return c, fmt.Errorf("docker-credential-%s get: %w", name, err)
	}
	return c, nil
}

func helperStore(name, registry, user, pass string) error {
	b, _ := json.Marshal(helperCreds{ServerURL: registry, Username: user, Secret: pass})
	_, err := runHelper(name, "store", b)
	return err
}

// helperErase removes registry from helper name; false when it had none.
func helperErase(name, registry string) (bool, error) {
	_, err := runHelper(name, "erase", []byte(registry))
	if errors.Is(err, errNotFound) {
		return false, nil
	}
	return err == nil, err
}

// helperList is the servers helper name holds.
func helperList(name string) ([]string, error) {
	out, err := runHelper(name, "list", nil)
	if err != nil {
		return nil, err
	}
	var m map[string]string
	if err := json.Unmarshal(out, &m); err != nil {
		return nil, fmt.Errorf("docker-credential-%s list: %w", name, err)
	}
	var servers []string
	for s := range m {
		servers = append(servers, s)
	}
	return servers, nil
}

// eraseAllHelpers erases what the file's helpers hold: the registries
// credHelpers names, and everything credsStore lists.
func (c *authConf) eraseAllHelpers() (bool, error) {
	helpers, err := c.helperNames()
	if err != nil {
		return false, err
	}
	had := false
	var errs []error
	for h, regs := range helpers {
		var servers []string
		for _, r := range regs {
			if r != "" {
				servers = append(servers, r)
				continue
			}
			l, err := helperList(h)
			if err != nil {
				errs = append(errs, err)
			}
			servers = append(servers, l...)
		}
		for _, s := range servers {
			ok, err := helperErase(h, s)
			had = had || ok
			errs = append(errs, err)
		}
	}
	return had, errors.Join(errs...)
}
