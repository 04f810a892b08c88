package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/myrun-org/myrun/imgtool/container"
	"github.com/myrun-org/myrun/imgtool/store"
)

// filters are --filter KEY=VALUE values by key. As podman: values of one
// key are alternatives (any may match), different keys must all match.
type filters map[string][]string

func parseFilters(vals []string, known []string, what string) (filters, error) {
	f := filters{}
	for _, v := range vals {
		k, val, ok := strings.Cut(v, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if !ok || k == "" {
			return nil, fmt.Errorf("--filter %q: want KEY=VALUE", v)
		}
		found := false
		for _, n := range known {
			found = found || n == k
		}
		if !found {
			return nil, fmt.Errorf("--filter %q: unsupported %s filter %q (known: %s)", v, what, k, strings.Join(known, ", "))
		}
		f[k] = append(f[k], val)
	}
	return f, nil
}

// all is true when, for every key, match holds for one of its values.
func (f filters) all(match func(key, val string) bool) bool {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		any := false
		for _, v := range f[k] {
			if match(k, v) {
				any = true
				break
			}
		}
		if !any {
			return false
		}
	}
	return true
}

// labelMatch is label=KEY (present) or label=KEY=VALUE (equal).
func labelMatch(labels map[string]string, v string) bool {
	k, want, hasVal := strings.Cut(v, "=")
	got, ok := labels[k]
	return ok && (!hasVal || got == want)
}

var psFilterKeys = []string{"id", "name", "label", "status", "exited", "ancestor", "before", "since", "network", "health"}

var containerStates = []string{"created", "running", "exited", "paused", "unknown"}

// psFilter returns the test of `ps --filter` values; the references of
// before/since are resolved once, regular expressions compiled once.
func psFilter(cs *container.Manager, f filters) (func(r *container.Record, state string) bool, error) {
	res := map[string]*regexp.Regexp{}
	times := map[string]time.Time{}
	for k, vals := range f {
		for _, v := range vals {
			switch k {
			case "name":
				re, err := regexp.Compile(v)
				if err != nil {
					return nil, fmt.Errorf("--filter name=%s: %w", v, err)
				}
				res[v] = re
			case "status":
				ok := false
				for _, s := range containerStates {
					ok = ok || s == v
				}
				if !ok {
					return nil, fmt.Errorf("--filter status=%s: want one of %s", v, strings.Join(containerStates, ", "))
				}
			case "exited":
				if _, err := strconv.Atoi(v); err != nil {
					return nil, fmt.Errorf("--filter exited=%s: not an exit code", v)
				}
			case "health":
				if v != container.HealthStarting && v != container.HealthHealthy && v != container.HealthUnhealthy && v != "none" {
					return nil, fmt.Errorf("--filter health=%s: want starting, healthy, unhealthy or none", v)
				}
			case "before", "since":
				r, err := cs.Lookup(v)
				if err != nil {
					return nil, fmt.Errorf("--filter %s=%s: %w", k, v, err)
				}
				times[k+"="+v] = r.Created
			}
		}
	}
	var ancestors map[string]string
	if len(f["ancestor"]) > 0 {
		ancestors = map[string]string{}
		for _, v := range f["ancestor"] {
			if d, err := cs.Images.Resolve(v); err == nil {
				ancestors[v] = d.Digest.String()
			}
		}
	}
	return func(r *container.Record, state string) bool {
		return f.all(func(k, v string) bool {
			switch k {
			case "id":
				return strings.HasPrefix(r.ID, v)
			case "name":
				return res[v].MatchString(r.Name)
			case "label":
				return labelMatch(r.Labels, v)
			case "status":
				return state == v
			case "exited":
				n, _ := strconv.Atoi(v)
				return state == "exited" && r.ExitCode == n
			case "ancestor":
				return r.Image == v || store.NormalizeName(r.Image) == store.NormalizeName(v) || (ancestors[v] != "" && ancestors[v] == r.ImageDigest)
			case "before":
				return r.Created.Before(times[k+"="+v])
			case "since":
				return r.Created.After(times[k+"="+v])
			case "network":
				name := r.Network.Name
				if name == "" {
					name = r.Network.Mode
				}
				return name == v
			case "health":
				h := container.HealthStatus(r)
				return h == v || (v == "none" && r.Healthcheck == nil)
			}
			return false
		})
	}, nil
}

var imageFilterKeys = []string{"reference", "dangling", "label", "before", "since", "id"}

// imageInfo is what the image filters look at.
type imageInfo struct {
	Name, ID string
	Created  time.Time
	Labels   map[string]string
}

// imageFilter returns the test of `images --filter` values; created
// gives an image reference's creation time (for before and since).
func imageFilter(f filters, created func(ref string) (time.Time, error)) (func(im imageInfo) bool, error) {
	times := map[string]time.Time{}
	for k, vals := range f {
		for _, v := range vals {
			switch k {
			case "dangling":
				if v != "true" && v != "false" {
					return nil, fmt.Errorf("--filter dangling=%s: want true or false", v)
				}
			case "reference":
				if _, err := filepath.Match(v, ""); err != nil {
					return nil, fmt.Errorf("--filter reference=%s: %w", v, err)
				}
			case "before", "since":
				t, err := created(v)
				if err != nil {
					return nil, fmt.Errorf("--filter %s=%s: %w", k, v, err)
				}
				times[k+"="+v] = t
			}
		}
	}
	return func(im imageInfo) bool {
		return f.all(func(k, v string) bool {
			switch k {
			case "reference":
				return im.Name != "" && refMatch(v, im.Name)
			case "dangling":
				return (im.Name == "") == (v == "true")
			case "label":
				return labelMatch(im.Labels, v)
			case "id":
				return strings.HasPrefix(im.ID, strings.TrimPrefix(v, "sha256:"))
			case "before":
				return im.Created.Before(times[k+"="+v])
			case "since":
				return im.Created.After(times[k+"="+v])
			}
			return false
		})
	}, nil
}

// refMatch matches a reference glob as podman: against the name with and
// without its tag, and against those without leading path components
// (so "bb" matches localhost/bb:1).
func refMatch(pattern, name string) bool {
	repo, tag := splitName(name)
	var cands []string
	for p := repo; ; {
		cands = append(cands, p)
		if tag != "<none>" {
			cands = append(cands, p+":"+tag)
		}
		i := strings.IndexByte(p, '/')
		if i < 0 {
			break
		}
		p = p[i+1:]
	}
	for _, c := range cands {
		if ok, _ := filepath.Match(pattern, c); ok {
			return true
		}
	}
	return false
}
