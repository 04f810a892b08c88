package libcontainer

import (
	"strings"
	"testing"
)

// Each row's error carries its substring; the rows are provoked for real
// in conformance/integration (TestRuncMessages, TestRuncFrozenCgroupRefused,
// TestRootless).
func TestMessagesTable(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range Messages {
		if !strings.Contains(m.Err.Error(), m.Substring) {
			t.Errorf("%s: %q does not contain %q", m.Case, m.Err, m.Substring)
		}
		if seen[m.Case] {
			t.Errorf("%s: listed twice", m.Case)
		}
		seen[m.Case] = true
	}
	if got := invalidConfig(ErrNotExist).Error(); got != "invalid configuration: container does not exist" {
		t.Errorf("invalidConfig: %q", got)
	}
}
