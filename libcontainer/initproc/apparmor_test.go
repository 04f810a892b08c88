package initproc

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
)

// TestApparmorProfileNotLoaded: AppArmor answers a write naming a profile
// it has not loaded with ENOENT. That is not a missing attr/apparmor/exec
// (no fallback to attr/exec, whose write fails the same way and hid the
// cause: "write fsmount:fscontext:proc/thread-self/attr/exec: no such file
// or directory" in the VM lane), and the error names the profile.
func TestApparmorProfileNotLoaded(t *testing.T) {
	var calls []string
	writeProcAttr = func(sub, value string) error {
		calls = append(calls, sub)
		return fmt.Errorf("/proc/thread-self/%s: %w", sub,
			&os.PathError{Op: "write", Path: "fsmount:fscontext:proc/thread-self/" + sub, Err: syscall.ENOENT})
	}
	defer func() { writeProcAttr = pathrsWrite }()
	err := applyApparmor("acme_secure_profile")
	if err == nil || !strings.Contains(err.Error(), `profile "acme_secure_profile" is not loaded`) {
		t.Fatalf("error %v does not say the profile is not loaded", err)
	}
	if len(calls) != 1 || calls[0] != "attr/apparmor/exec" {
		t.Fatalf("wrote %v, want attr/apparmor/exec only", calls)
	}
}

// TestApparmorOldKernelFallback: without attr/apparmor/exec (open fails
// with ENOENT) the profile goes to attr/exec.
func TestApparmorOldKernelFallback(t *testing.T) {
	var calls []string
	writeProcAttr = func(sub, value string) error {
		calls = append(calls, sub+"="+value)
		if sub == "attr/apparmor/exec" {
			return fmt.Errorf("/proc/thread-self/%s: %w", sub, &os.PathError{Op: "openat", Path: sub, Err: syscall.ENOENT})
		}
		return nil
	}
	defer func() { writeProcAttr = pathrsWrite }()
	if err := applyApparmor("p"); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 || calls[1] != "attr/exec=exec p" {
		t.Fatalf("wrote %v", calls)
	}
}

var pathrsWrite = writeProcAttr
