package cgroups

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	lib "github.com/opencontainers/cgroups"
)

// cgroup2Dir is a container's directory on a cgroup2 mount (the root of
// a v2 host, or the unified mount of a hybrid host). create follows the
// library's fs2.CreateCgroupPath level by level; that function itself
// cannot serve here: it works only at /sys/fs/cgroup (neither the hybrid
// mount nor the unit tests' fake cgroupfs), enables controllers in every
// ancestor (rootless, we write only into directories we created) and
// does not say which directories it made (Destroy removes only those).
type cgroup2Dir struct {
	base, dir string
	// need maps the spec fields the container sets to the controllers
	// they need here (v2Needs): a thread subtree refuses the domain ones.
	need map[string]string
	// enableAll enables every controller a level has for its children,
	// on the way down (v2, as runc; hybrid enables what Set needs).
	enableAll bool
	rootless  bool // write only into directories we created
}

// create makes the directory and its missing parents, marked as ours,
// and checks each level below base for thread mode: a "domain invalid"
// cgroup (a domain below a threaded one, which holds no processes until
// it is threaded too) is made "threaded" when the container needs no
// domain controller; "threaded" and "domain threaded" cgroups take no
// domain controllers. It returns the directories created, top first.
func (c cgroup2Dir) create() ([]string, error) {
	parentType := "domain" // the mount root
	return mkdirMarked(c.base, c.dir, func(level string, created bool) error {
		writable := !c.rootless || isOurs(level)
		if level != c.base {
			var err error
			if parentType, err = c.checkType(level, created, parentType, writable); err != nil {
				return err
			}
		}
		if c.enableAll && level != c.dir && writable {
			_ = enableIn(level, nil) // what fails, Set reports per field
		}
		return nil
	})
}

// domainControllers are those fs2.CreateCgroupPath keeps out of thread
// subtrees (containsDomainController).
var domainControllers = []string{"memory", "io", "cpu", "hugetlb"}

// checkType returns level's cgroup type after the check. A directory we
// just made is a valid domain below one, else "domain invalid" (read
// only what existed before: it saves a read per level).
func (c cgroup2Dir) checkType(level string, created bool, parentType string, writable bool) (string, error) {
	typ := "domain"
	if !created {
		t, err := lib.ReadFile(level, "cgroup.type")
		if err != nil {
			return typ, nil // a kernel without thread mode
		}
		typ = strings.TrimSpace(t)
	} else if parentType != "domain" {
		typ = "domain invalid"
	}
	if typ != "domain invalid" && typ != "threaded" && typ != "domain threaded" {
		return typ, nil
	}
	for _, field := range slices.Sorted(maps.Keys(c.need)) {
		if ctrl := c.need[field]; slices.Contains(domainControllers, ctrl) {
			return typ, unsupported(field, fmt.Sprintf("%s is a %q cgroup: a thread subtree has no %s controller", level, typ, ctrl))
		}
	}
	if typ == "domain invalid" && writable {
		if err := lib.WriteFile(level, "cgroup.type", "threaded"); err != nil {
			return typ, fmt.Errorf("cgroups: %s is %q and cannot be made threaded: %w", level, typ, err)
		}
		typ = "threaded"
	}
	return typ, nil
}

// unifiedNeeds names the controllers of linux.resources.unified's files.
func unifiedNeeds(unified map[string]string) map[string]string {
	out := map[string]string{}
	for k := range unified {
		if ctrl, _, ok := strings.Cut(k, "."); ok && ctrl != "cgroup" {
			out[fmt.Sprintf("unified[%q]", k)] = ctrl
		}
	}
	return out
}

// enableControllers enables ctrls (nil: every controller each level
// has) in cgroup.subtree_control from base down to leaf's parent. With
// onlyOurs, directories without our marker are left alone (rootless
// must never write to a parent it was not given, CVE-2023-25809).
func enableControllers(base, leaf string, ctrls []string, onlyOurs bool) error {
	parent := filepath.Dir(leaf)
	if err := checkWithin(parent, base); err != nil {
		return err
	}
	for _, dir := range levels(base, parent) {
		if !onlyOurs || isOurs(dir) {
			if err := enableIn(dir, ctrls); err != nil {
				return err
			}
		}
	}
	return nil
}

// enableIn enables in dir those of ctrls (nil: all of its
// cgroup.controllers) it lacks: in one write when it can (the kernel
// applies "+a +b" as a whole), else one by one, as far as each goes. It
// returns the first failure.
func enableIn(dir string, ctrls []string) error {
	if ctrls == nil {
		avail, _ := lib.ReadFile(dir, "cgroup.controllers")
		ctrls = strings.Fields(avail)
	}
	cur, _ := lib.ReadFile(dir, "cgroup.subtree_control")
	have := strings.Fields(cur)
	var add []string
	for _, c := range ctrls {
		if !slices.Contains(have, c) {
			add = append(add, "+"+c)
		}
	}
	if len(add) == 0 || lib.WriteFile(dir, "cgroup.subtree_control", strings.Join(add, " ")) == nil {
		return nil
	}
	var first error
	for _, c := range add {
		if err := lib.WriteFile(dir, "cgroup.subtree_control", c); err != nil && first == nil {
			first = fmt.Errorf("cgroups: enable controller %s in %s: %w", c[1:], dir, err)
		}
	}
	return first
}
