// Package resctrl places containers in Intel RDT / AMD QoS groups through
// the resctrl filesystem (runtime-spec linux.intelRdt): a CTRL_MON group
// named by closID or the container id, its schemata, and a MON group per
// container when monitoring is asked for.
package resctrl

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// Group is what a container has in resctrl; it is saved with the
// container's state so that exec, update and delete find it again.
type Group struct {
	// Root is the resctrl mount.
	Root string `json:"root"`
	// Dir is the CTRL_MON group (the resctrl root for closID "/").
	Dir string `json:"dir"`
	// Owned: we created Dir for this container and remove it on delete
	// (only when closID is not set, per the spec).
	Owned bool `json:"owned,omitempty"`
	// Mon is the container's MON group under Dir/mon_groups, or "".
	Mon string `json:"mon,omitempty"`
}

// Hooks for tests over a fake resctrl tree: a real group's files appear
// with its mkdir, and rmdir removes a group with its files.
var (
	mkdir  = os.Mkdir
	rmdir  = os.Remove
	writef = func(path string, data []byte) error {
		// No O_CREAT: the file is the kernel's. O_APPEND is ignored by
		// resctrl and keeps every line in a fake tree.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return err
		}
		_, err = f.Write(data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	}
)

// Setup makes the container's group under root (the resctrl mount) as
// linux.intelRdt asks, writes its schemata and returns it. On error
// nothing it made is left.
func Setup(root, id string, rdt *rspec.LinuxIntelRdt) (g *Group, err error) {
	const f = "linux.intelRdt"
	g = &Group{Root: root}
	lines := schemaLines(rdt)
	defer func() {
		if err != nil {
			g.Destroy()
		}
	}()
	switch c := rdt.ClosID; {
	case c == "/":
		g.Dir = root
		if err := g.writeSchemata(lines); err != nil {
			return g, err
		}
	case c == "":
		g.Dir = filepath.Join(root, id)
		if err := mkdir(g.Dir, 0o755); err != nil {
			if errors.Is(err, os.ErrExist) {
				return g, fmt.Errorf("%s: a resctrl group named after the container (%s) exists already", f, g.Dir)
			}
			return g, fmt.Errorf("%s: creating resctrl group: %w", f, err)
		}
		g.Owned = true
		if err := g.writeSchemata(lines); err != nil {
			return g, err
		}
	default:
		g.Dir = filepath.Join(root, c)
		_, statErr := os.Stat(g.Dir)
		switch {
		case statErr == nil && len(lines) > 0:
			// A group that exists is shared: it must already say what we
			// want, we do not change it under other containers.
			if err := compareSchemata(g.Dir, lines); err != nil {
				return g, err
			}
		case statErr == nil:
		case !errors.Is(statErr, os.ErrNotExist):
			return g, fmt.Errorf("%s.closID: %w", f, statErr)
		case len(lines) == 0:
			return g, fmt.Errorf("%s.closID: unknown resctrl group %q (no %s, and no schemata to create it with)", f, c, g.Dir)
		default:
			// Created for the schemata; not removed on delete (the spec:
			// a group named by closID is never removed by the runtime).
			if err := mkdir(g.Dir, 0o755); err != nil {
				return g, fmt.Errorf("%s.closID: creating resctrl group: %w", f, err)
			}
			if err := g.writeSchemata(lines); err != nil {
				return g, err
			}
		}
	}
	if rdt.EnableMonitoring {
		mon := filepath.Join(g.Dir, "mon_groups", id)
		if err := mkdir(mon, 0o755); err != nil {
			return g, fmt.Errorf("%s.enableMonitoring: creating MON group: %w", f, err)
		}
		g.Mon = mon
	}
	return g, nil
}

// schemaLines are the schemata lines in the order the spec wants them
// written: l3CacheSchema, memBwSchema, then schemata.
func schemaLines(rdt *rspec.LinuxIntelRdt) []string {
	var out []string
	if rdt.L3CacheSchema != "" {
		out = append(out, rdt.L3CacheSchema)
	}
	if rdt.MemBwSchema != "" {
		out = append(out, rdt.MemBwSchema)
	}
	return append(out, rdt.Schemata...)
}

// writeSchemata writes each line on its own: the kernel applies one
// resource per line and reports which one it refused.
func (g *Group) writeSchemata(lines []string) error {
	for _, l := range lines {
		if err := writef(filepath.Join(g.Dir, "schemata"), []byte(l+"\n")); err != nil {
			msg := ""
			if b, rerr := os.ReadFile(filepath.Join(g.Root, "info", "last_cmd_status")); rerr == nil {
				msg = " (" + strings.TrimSpace(string(b)) + ")"
			}
			return fmt.Errorf("linux.intelRdt: writing schemata %q: %w%s", l, err, msg)
		}
	}
	return nil
}

// compareSchemata checks that every wanted line matches the group's
// schemata file (values compared as numbers where they are numbers).
func compareSchemata(dir string, want []string) error {
	raw, err := os.ReadFile(filepath.Join(dir, "schemata"))
	if err != nil {
		return fmt.Errorf("linux.intelRdt.closID: %w", err)
	}
	have := map[string]map[string]string{}
	for _, l := range strings.Split(string(raw), "\n") {
		if res, vals, ok := parseLine(l); ok {
			have[res] = vals
		}
	}
	for _, w := range want {
		res, vals, ok := parseLine(w)
		if !ok {
			return fmt.Errorf("linux.intelRdt: bad schema line %q", w)
		}
		for id, v := range vals {
			if !sameValue(have[res][id], v) {
				return fmt.Errorf("linux.intelRdt.closID: group %s has %s:%s=%s, the config asks for %s=%s", filepath.Base(dir), res, id, have[res][id], id, v)
			}
		}
	}
	return nil
}

func parseLine(l string) (string, map[string]string, bool) {
	res, rest, ok := strings.Cut(strings.TrimSpace(l), ":")
	if !ok || res == "" {
		return "", nil, false
	}
	vals := map[string]string{}
	for _, kv := range strings.Split(rest, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return "", nil, false
		}
		vals[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return strings.TrimSpace(res), vals, true
}

func sameValue(a, b string) bool {
	if a == b {
		return true
	}
	x, err1 := strconv.ParseUint(a, 16, 64)
	y, err2 := strconv.ParseUint(b, 16, 64)
	return err1 == nil && err2 == nil && x == y
}

// Join moves pid into the group (its MON group when there is one, which
// puts it in the CTRL_MON group too).
func (g *Group) Join(pid int) error {
	dir := g.Dir
	if g.Mon != "" {
		dir = g.Mon
	}
	if err := writef(filepath.Join(dir, "tasks"), []byte(strconv.Itoa(pid)+"\n")); err != nil {
		return fmt.Errorf("linux.intelRdt: joining resctrl group %s: %w", dir, err)
	}
	return nil
}

// Update writes new L3 and MB schemas (`myrun update --l3-cache-schema,
// --mem-bw-schema`).
func (g *Group) Update(l3, mb string) error {
	var lines []string
	if l3 != "" {
		lines = append(lines, l3)
	}
	if mb != "" {
		lines = append(lines, mb)
	}
	return g.writeSchemata(lines)
}

// Destroy removes the MON group and, when we created it for the
// container, the CTRL_MON group. Removing a resctrl group moves its tasks
// back to the parent group.
func (g *Group) Destroy() error {
	var errs []error
	if g.Mon != "" {
		if err := rmdir(g.Mon); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if g.Owned {
		if err := rmdir(g.Dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
