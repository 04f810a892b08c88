// Package cgroups places containers into cgroups and applies the
// runtime-spec linux.resources to them, on cgroup v1, v2, hybrid hosts
// (v1 controllers plus a cgroup2 mount at /sys/fs/cgroup/unified) and,
// where systemd runs, through systemd.
//
// It is a thin layer over github.com/opencontainers/cgroups: the library
// detects the host's mode, finds the v1 mounts, parses /proc/self/cgroup,
// writes the controller files and removes cgroup trees; this package
// resolves paths, creates directories (marking the ones it created, see
// Destroy), checks that the host has what a resource needs (errors name
// the spec field) and handles what the library does not do on hybrid
// hosts (hugetlb and the unified map on the cgroup2 mount beside the v1
// controllers).
//
// cgroup2 directories are made as fs2.CreateCgroupPath makes them (see
// cgroup2Dir for why it is not called): level by level, controllers
// enabled on the way down, and thread mode respected: a "domain invalid"
// cgroup becomes "threaded" when no domain controller (memory, io, cpu,
// hugetlb) is asked for, and a thread subtree with one is an error naming
// the field.
//
// Path semantics (as runc):
//   - linux.cgroupsPath absolute ("/a/b"): relative to the root of each
//     hierarchy.
//   - relative ("a/b"): relative to the caller's own cgroup in each v1
//     hierarchy (read from /proc/self/cgroup); on a pure v2 host relative
//     to the parent of the caller's cgroup, because a cgroup with
//     processes cannot have children with domain controllers.
//   - empty: runc uses the container id as a relative path, i.e.
//     <own cgroup>/<id>; we do the same. With --systemd-cgroup an empty
//     path means slice "system.slice" (user.slice when rootless), prefix
//     "myrun", name <id>.
//
// Hybrid hosts: the container is placed in every mounted v1 hierarchy we
// use and in a directory at the same path under /sys/fs/cgroup/unified.
// hugepageLimits, rdma and the unified map go to that cgroup2 directory
// when no v1 hierarchy serves them; the needed controller is enabled in
// cgroup.subtree_control from the unified root down (as runc does on v2).
// A field the host cannot do is an error naming it, e.g.
// "linux.resources.blockIO.leafWeight: not supported by this host (no
// blkio.leaf_weight)"; kernel memory limits (deprecated, unenforced) and,
// on v2, swappiness and disableOOMKiller are skipped with a warning.
//
// Destroy: directories we create get the xattr trusted.myrun.created
// (user.* when not root). Destroy removes the container's directory and
// then each empty parent carrying the marker, so a parent that existed
// before is never removed and a parent shared by containers goes with the
// last one. It never kills: a populated cgroup makes Destroy fail.
//
// Rootless: on v2 only a subtree delegated to us (owned by our uid) is
// used and only directories we created get controllers enabled (never a
// parent, CVE-2023-25809). Otherwise (and always on v1/hybrid) the
// container runs without a cgroup with a warning; asking for limits then
// is an error, as in runc.
package cgroups
