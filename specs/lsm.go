package specs

import (
	"os"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// A label or profile we cannot apply must not be silently dropped: the
// container would run unconfined while its config says otherwise.

// selinuxEnabled is true when selinuxfs is mounted (the LSM is active).
var selinuxEnabled = func() bool {
	_, err := os.Stat("/sys/fs/selinux/enforce")
	return err == nil
}

// SELinuxEnabled reports whether SELinux is active on this host: only then
// are process and mount labels applied.
func SELinuxEnabled() bool { return selinuxEnabled() }

// apparmorEnabled mirrors the kernel module's switch.
var apparmorEnabled = func() bool {
	b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	return err == nil && strings.HasPrefix(string(b), "Y")
}

func checkLSM(p *problems, s *rspec.Spec) {
	if s.Process != nil {
		if s.Process.SelinuxLabel != "" && !selinuxEnabled() {
			p.add("process.selinuxLabel", "%q set but SELinux is not enabled on this host", s.Process.SelinuxLabel)
		}
		if s.Process.ApparmorProfile != "" && !apparmorEnabled() {
			p.add("process.apparmorProfile", "%q set but AppArmor is not enabled on this host", s.Process.ApparmorProfile)
		}
	}
}

// Warnings lists settings that are accepted but have no effect on this
// host. linux.mountLabel only labels files for SELinux: without SELinux
// there is nothing to label and nothing is less confined (crun does the
// same), unlike a process label, which is refused above.
func Warnings(s *rspec.Spec) []string {
	var w []string
	if s.Linux != nil && s.Linux.MountLabel != "" && !selinuxEnabled() {
		w = append(w, "config.json: linux.mountLabel: ignored, SELinux is not enabled on this host")
	}
	return w
}
