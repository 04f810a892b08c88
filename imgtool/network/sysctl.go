package network

import (
	"os"
	"path/filepath"
	"strings"
)

// setSysctl writes value to /proc/sys/<parts...> unless it already has it.
func setSysctl(value string, parts ...string) error {
	p := filepath.Join(append([]string{"/proc/sys"}, parts...)...)
	if cur, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(cur)) == value {
		return nil
	}
	return os.WriteFile(p, []byte(value), 0o644)
}
