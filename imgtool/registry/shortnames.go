package registry

import (
	"fmt"
	"strings"
)

// Short names and mirrors, as containers/image resolves them.

// isShort reports whether ref names no registry: its first component
// has no '.' or ':' and is not localhost.
func isShort(ref string) bool {
	first, _, hasSlash := strings.Cut(ref, "/")
	if !hasSlash {
		return true
	}
	return !strings.ContainsAny(first, ".:") && first != "localhost"
}

// splitTag cuts a reference into its repository and ":tag" or "@digest"
// suffix.
func splitTag(ref string) (repo, suffix string) {
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		return ref[:i], ref[i:]
	}
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		return ref[:i], ref[i:]
	}
	return ref, ""
}

// Qualify turns ref into the fully qualified names to try, in order. A
// short name takes its alias, else each unqualified-search registry; in
// enforcing mode (the default) several of them would need a prompt, and
// we never prompt: that is an error, as podman's without a terminal.
func (c *Conf) Qualify(ref string) ([]string, error) {
	if !isShort(ref) {
		return []string{ref}, nil
	}
	repo, suffix := splitTag(ref)
	if c != nil {
		if a, ok := c.Aliases[repo]; ok {
			if isShort(a) {
				return nil, fmt.Errorf("short name %q: alias %q in %s is not fully qualified", ref, a, c.Path)
			}
			return []string{a + suffix}, nil
		}
	}
	var search []string
	mode := ""
	where := DefaultConfPath
	if c != nil {
		search, mode, where = c.Search, c.Mode, c.Path
	}
	if len(search) == 0 {
		return nil, fmt.Errorf("short name %q did not resolve to an alias and no unqualified-search-registries are defined in %s: use a fully qualified name (registry/repository:tag)", ref, where)
	}
	if len(search) > 1 && (mode == "" || mode == "enforcing") {
		return nil, fmt.Errorf("short name %q: short-name-mode is enforcing and %d unqualified-search-registries (%s) would need a choice; we never prompt: use a fully qualified name, an alias, or short-name-mode = \"permissive\"", ref, len(search), strings.Join(search, ", "))
	}
	out := make([]string, 0, len(search))
	for _, r := range search {
		q := r + "/" + ref
		if (r == "docker.io" || r == "index.docker.io") && !strings.Contains(repo, "/") {
			q = r + "/library/" + ref
		}
		out = append(out, q)
	}
	return out, nil
}

// source is one place a qualified name is pulled from.
type source struct {
	ref      string
	insecure bool // a mirror's own insecure flag
}

// sources are where ref is pulled from: its registry entry's mirrors
// (unless mirror-by-digest-only and ref has a tag; a mirror's
// pull-from-mirror digest-only or tag-only keeps it to references of
// that kind), then its location
// (the prefix rewritten when location differs).
func (c *Conf) sources(ref string) []source {
	e := c.find(ref)
	if e == nil {
		return []source{{ref: ref}}
	}
	rewrite := func(loc string) string {
		r := strings.Replace(ref, "index.docker.io/", "docker.io/", 1)
		if strings.HasPrefix(e.Prefix, "*") {
			// A wildcard matched the host: the location takes its place,
			// as containers/image rewrites (was: ref kept, the location
			// and the mirrors' locations ignored).
			_, rest, _ := strings.Cut(r, "/")
			return loc + "/" + rest
		}
		rest, _ := strings.CutPrefix(r, e.Prefix)
		return loc + rest
	}
	var out []source
	digest := strings.Contains(ref, "@")
	if !e.DigestMirror || digest {
		for _, m := range e.Mirrors {
			if (m.PullFrom == "digest-only" && !digest) || (m.PullFrom == "tag-only" && digest) {
				continue
			}
			out = append(out, source{ref: rewrite(m.Location), insecure: m.Insecure})
		}
	}
	loc := ref
	if e.Location != "" && e.Location != e.Prefix {
		loc = rewrite(e.Location)
	}
	return append(out, source{ref: loc})
}
