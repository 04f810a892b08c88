package cgroups

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// OOMKills returns how many processes the kernel's OOM killer has killed
// in the cgroup: "oom_kill" of memory.oom_control (v1) or memory.events
// (v2). `myrun events` turns an increase into an "oom" event.
func OOMKills(paths map[string]string) (uint64, error) {
	if dir, ok := paths["memory"]; ok {
		return readKeyed(filepath.Join(dir, "memory.oom_control"), "oom_kill")
	}
	for _, k := range []string{"", "unified"} {
		if dir, ok := paths[k]; ok {
			if n, err := readKeyed(filepath.Join(dir, "memory.events"), "oom_kill"); err == nil {
				return n, nil
			}
		}
	}
	return 0, os.ErrNotExist
}

// readKeyed reads "key value" lines and returns key's value.
func readKeyed(path, key string) (uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if ok && k == key {
			return strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, nil // older kernels lack the key: no kills seen
}
