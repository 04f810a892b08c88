package network

import (
	"os"
	"path/filepath"
	"strings"
)

// setSysctl writes value to /proc/sys/<key> unless it already has it.
func setSysctl(key, value string) error {
	p := filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
	if cur, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(cur)) == value {
		return nil
	}
	return os.WriteFile(p, []byte(value), 0o644)
}
