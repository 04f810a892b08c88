package registry

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/BurntSushi/toml"
)

// DefaultConfPath is read when $CONTAINERS_REGISTRIES_CONF is unset, with
// the drop-ins in DefaultConfPath+".d/*.conf" after it (as containers/image).
const DefaultConfPath = "/etc/containers/registries.conf"

// Conf is what myimg uses of a containers-registries.conf(5): which
// registries may be reached over plain HTTP (insecure) and which are
// blocked, where a prefix is pulled from (location, mirrors), and how
// short names resolve (aliases, unqualified-search-registries,
// short-name-mode; shortnames.go).
type Conf struct {
	Path    string
	entries []confEntry
	// Search is unqualified-search-registries, Aliases [aliases] (name
	// without tag -> repository), Mode short-name-mode; later files win.
	Search  []string
	Aliases map[string]string
	Mode    string
}

type confEntry struct {
	Prefix       string       `toml:"prefix"`
	Location     string       `toml:"location"`
	Insecure     bool         `toml:"insecure"`
	Blocked      bool         `toml:"blocked"`
	Mirrors      []confMirror `toml:"mirror"`
	DigestMirror bool         `toml:"mirror-by-digest-only"`
	from         string
}

type confMirror struct {
	Location string `toml:"location"`
	Insecure bool   `toml:"insecure"`
	// PullFrom is pull-from-mirror: all (""), digest-only or tag-only.
	PullFrom string `toml:"pull-from-mirror"`
}

type confFile struct {
	Search   *[]string         `toml:"unqualified-search-registries"`
	Mode     string            `toml:"short-name-mode"`
	Aliases  map[string]string `toml:"aliases"`
	Registry []confEntry       `toml:"registry"`
	// Version 1 format: [registries.insecure] registries = [...].
	Registries struct {
		Search   struct{ Registries *[]string } `toml:"search"`
		Insecure struct{ Registries []string }  `toml:"insecure"`
		Block    struct{ Registries []string }  `toml:"block"`
	} `toml:"registries"`
}

// LoadConf reads $CONTAINERS_REGISTRIES_CONF (which must exist when set)
// or DefaultConfPath and its drop-ins (absent files are no configuration).
func LoadConf() (*Conf, error) {
	if p := os.Getenv("CONTAINERS_REGISTRIES_CONF"); p != "" {
		c := &Conf{Path: p}
		return c, c.add(p, false)
	}
	c := &Conf{Path: DefaultConfPath}
	if err := c.add(DefaultConfPath, true); err != nil {
		return nil, err
	}
	drops, _ := filepath.Glob(DefaultConfPath + ".d/*.conf")
	sort.Strings(drops)
	for _, d := range drops {
		if err := c.add(d, true); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *Conf) add(path string, optional bool) error {
	b, err := os.ReadFile(path)
	if optional && errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("registries.conf: %w", err)
	}
	var f confFile
	md, err := toml.Decode(string(b), &f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if keys := md.Undecoded(); len(keys) > 0 {
		var names []string
		for _, k := range keys {
			names = append(names, k.String())
		}
		return fmt.Errorf("%s: not supported by myimg: %s", path, strings.Join(names, ", "))
	}
	if err := f.checkVersions(path); err != nil {
		return err
	}
	if f.Search != nil {
		c.Search = *f.Search
	}
	switch f.Mode {
	case "":
	case "enforcing", "permissive", "disabled":
		c.Mode = f.Mode
	default:
		return fmt.Errorf("%s: short-name-mode %q: want enforcing, permissive or disabled", path, f.Mode)
	}
	for k, v := range f.Aliases {
		if c.Aliases == nil {
			c.Aliases = map[string]string{}
		}
		c.Aliases[k] = v
	}
	for _, r := range f.Registries.Insecure.Registries {
		f.Registry = append(f.Registry, confEntry{Location: r, Insecure: true})
	}
	for _, r := range f.Registries.Block.Registries {
		// One entry for a registry in both lists, as containers/image.
		if i := slices.IndexFunc(f.Registry, func(e confEntry) bool { return e.Location == r }); i >= 0 {
			f.Registry[i].Blocked = true
			continue
		}
		f.Registry = append(f.Registry, confEntry{Location: r, Blocked: true})
	}
	if err := checkDuplicates(path, f.Registry); err != nil {
		return err
	}
	for i, e := range f.Registry {
		if e.Prefix == "" {
			e.Prefix = e.Location
		}
		if e.Prefix == "" {
			return fmt.Errorf("%s: registry[%d]: neither location nor prefix is set", path, i)
		}
		if strings.Contains(e.Prefix, "*") && (!strings.HasPrefix(e.Prefix, "*.") || strings.ContainsAny(e.Prefix[1:], "*/")) {
			return fmt.Errorf("%s: registry[%d]: prefix %q: a wildcard must be a leading \"*.\" on a host name", path, i, e.Prefix)
		}
		if err := e.checkMirrors(path, i); err != nil {
			return err
		}
		e.from = path
		// A later file's entry for the same prefix replaces the earlier one.
		replaced := false
		for j := range c.entries {
			if c.entries[j].Prefix == e.Prefix {
				c.entries[j], replaced = e, true
			}
		}
		if !replaced {
			c.entries = append(c.entries, e)
		}
	}
	return nil
}

// checkVersions refuses a file that mixes the version 1 tables with any
// version 2 setting, as containers/image does ("mixing sysregistry v1/v2
// is not supported"): a version 1 file is one with a non-empty
// [registries.search], .insecure or .block list. Its search list is then
// unqualified-search-registries.
func (f *confFile) checkVersions(path string) error {
	r := f.Registries
	if len(*orEmpty(r.Search.Registries))+len(r.Insecure.Registries)+len(r.Block.Registries) == 0 {
		return nil
	}
	var v2 []string
	if f.Search != nil {
		v2 = append(v2, "unqualified-search-registries")
	}
	if f.Mode != "" {
		v2 = append(v2, "short-name-mode")
	}
	if f.Aliases != nil {
		v2 = append(v2, "[aliases]")
	}
	if len(f.Registry) > 0 {
		v2 = append(v2, "[[registry]]")
	}
	if len(v2) > 0 {
		return fmt.Errorf("%s: mixes the version 1 [registries.*] tables with version 2 settings (%s), as containers/image refuses", path, strings.Join(v2, ", "))
	}
	f.Search = r.Search.Registries
	return nil
}

func orEmpty(p *[]string) *[]string {
	if p == nil {
		return &[]string{}
	}
	return p
}

// checkDuplicates refuses one location given twice in a file with
// different insecure or blocked settings, as containers/image does (the
// later entry used to win without a word).
func checkDuplicates(path string, regs []confEntry) error {
	first := map[string]int{}
	for i, e := range regs {
		if e.Location == "" {
			continue
		}
		j, seen := first[e.Location]
		if !seen {
			first[e.Location] = i
			continue
		}
		for _, k := range []struct {
			key  string
			a, b bool
		}{{"insecure", regs[j].Insecure, e.Insecure}, {"blocked", regs[j].Blocked, e.Blocked}} {
			if k.a != k.b {
				return fmt.Errorf("%s: registry[%d] and registry[%d]: location %q given twice with different %s", path, j, i, e.Location, k.key)
			}
		}
	}
	return nil
}

func (e *confEntry) checkMirrors(path string, i int) error {
	for j, m := range e.Mirrors {
		if m.Location == "" {
			return fmt.Errorf("%s: registry[%d].mirror[%d]: location is not set", path, i, j)
		}
		switch m.PullFrom {
		case "", "all", "digest-only", "tag-only":
		default:
			return fmt.Errorf("%s: registry[%d].mirror[%d]: pull-from-mirror %q: want all, digest-only or tag-only", path, i, j, m.PullFrom)
		}
		if m.PullFrom != "" && m.PullFrom != "all" && e.DigestMirror {
			return fmt.Errorf("%s: registry[%d]: mirror-by-digest-only and mirror[%d]'s pull-from-mirror are both set", path, i, j)
		}
	}
	return nil
}

// find returns the entry whose prefix matches ref (host[:port]/repo[:tag],
// as name.Reference.Name() spells it)
// longest, as containers/image does: a prefix matches at a boundary
// (end, "/", ":" or "@"); "*.example.com" matches any subdomain host.
func (c *Conf) find(ref string) *confEntry {
	if c == nil {
		return nil
	}
	if rest, ok := strings.CutPrefix(ref, "index.docker.io/"); ok {
		ref = "docker.io/" + rest
	}
	var best *confEntry
	bestLen := -1
	for i := range c.entries {
		e := &c.entries[i]
		if n := matchPrefix(ref, e.Prefix); n > bestLen {
			best, bestLen = e, n
		}
	}
	return best
}

func matchPrefix(ref, prefix string) int {
	boundary := func(rest string) bool {
		return rest == "" || strings.ContainsAny(rest[:1], "/:@")
	}
	if suffix, ok := strings.CutPrefix(prefix, "*"); ok {
		host, _, _ := strings.Cut(ref, "/")
		name, _, _ := strings.Cut(host, ":")
		if strings.HasSuffix(name, suffix) && len(name) > len(suffix) {
			return len(prefix)
		}
		return -1
	}
	if rest, ok := strings.CutPrefix(ref, prefix); ok && boundary(rest) {
		return len(prefix)
	}
	return -1
}

// errPlainHTTP is what the transport returns for a plain HTTP request
// that neither --tls-verify=false nor registries.conf allowed.
var errPlainHTTP = errors.New("plain HTTP not allowed")

// httpsOnly refuses every request that is not HTTPS. go-containerregistry
// tries plain HTTP on its own for localhost, loopback, RFC 1918 and
// *.localhost names, in its ping fallback and by rewriting URLs; gating the
// innermost transport covers all of those paths.
type httpsOnly struct {
	inner   http.RoundTripper
	refused atomic.Bool
}

func (t *httpsOnly) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme != "https" {
		if r.Body != nil {
			r.Body.Close()
		}
		t.refused.Store(true)
		return nil, errPlainHTTP // the client's error names the URL
	}
	return t.inner.RoundTrip(r)
}
