package caps

import (
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func TestKnown(t *testing.T) {
	if !Known("CAP_SYS_ADMIN") || !Known("CAP_CHOWN") || Known("CAP_FOO") || Known("chown") {
		t.Fatal("capability name table is wrong")
	}
	if len(All()) < 38 {
		t.Fatalf("only %d capabilities known", len(All()))
	}
}

func TestNewRejectsUnknown(t *testing.T) {
	_, err := New(&rspec.LinuxCapabilities{Effective: []string{"CAP_NOPE"}})
	if err == nil || err.Error() != `process.capabilities.effective: unknown capability "CAP_NOPE"` {
		t.Fatalf("got %v", err)
	}
}
