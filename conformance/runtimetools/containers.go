package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"time"
)

// defaultRoot guesses a runtime's default state directory (as root) from its
// binary name: runc-compatible runtimes use /run/<name>.
func defaultRoot(runtimePath, override string) string {
	if override != "" {
		return override
	}
	return filepath.Join("/run", filepath.Base(runtimePath))
}

// listIDs returns the container ids (directory names) in a state root.
func listIDs(root string) map[string]bool {
	ids := map[string]bool{}
	ents, err := os.ReadDir(root)
	if err != nil {
		return ids
	}
	for _, e := range ents {
		if e.IsDir() {
			ids[e.Name()] = true
		}
	}
	return ids
}

// uuidRE matches the ids runtime-tools gives its containers (uuid.NewString).
var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// leftoverIDs picks ids that appeared during the test and belong to it: the
// bundle lies in one of the test's temp dirs, or (state unreadable) the id has
// runtime-tools' uuid shape. Other software's containers in the same root are
// never touched.
func leftoverIDs(before, after map[string]bool, bundleOf func(id string) (string, bool), tmpRoots []string) []string {
	var out []string
	for id := range after {
		if before[id] {
			continue
		}
		bundle, ok := bundleOf(id)
		if !ok {
			if uuidRE.MatchString(id) {
				out = append(out, id)
			}
			continue
		}
		for _, r := range tmpRoots {
			if isUnder(bundle, r) {
				out = append(out, id)
				break
			}
		}
	}
	return out
}

// runtimeCtl runs the runtime against an explicit state root.
type runtimeCtl struct {
	path, root string
	reaper     *reaper
}

func (r runtimeCtl) cmd(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, r.path, append([]string{"--root", r.root}, args...)...)
}

// bundle asks the runtime for a container's bundle path.
func (r runtimeCtl) bundle(id string) (string, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, _, err := r.reaper.output(r.cmd(ctx, "state", id))
	if err != nil {
		return "", false
	}
	var st struct {
		Bundle string `json:"bundle"`
	}
	if json.Unmarshal(out, &st) != nil || st.Bundle == "" {
		return "", false
	}
	return st.Bundle, true
}

// forceDelete removes a container, killing its processes.
func (r runtimeCtl) forceDelete(id string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stdout, stderr, err := r.reaper.output(r.cmd(ctx, "delete", "--force", id))
	if err != nil {
		return &cmdError{err: err, out: string(stdout) + string(stderr)}
	}
	return nil
}

type cmdError struct {
	err error
	out string
}

func (e *cmdError) Error() string { return withTail(e.err.Error(), lastLine(e.out)) }
