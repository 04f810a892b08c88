package build

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/myrun-org/myrun/imgtool/store"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ParsePlatform reads os/arch[/variant] (or arch alone, os linux), with
// the usual aliases (x86_64, aarch64); only linux images are built.
func ParsePlatform(s string) (ocispec.Platform, error) {
	parts := strings.Split(strings.ToLower(strings.TrimSpace(s)), "/")
	if len(parts) == 1 {
		parts = []string{"linux", parts[0]}
	}
	if len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return ocispec.Platform{}, fmt.Errorf("platform %q: want os/arch[/variant]", s)
	}
	p := ocispec.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	if p.OS != "linux" {
		return ocispec.Platform{}, fmt.Errorf("platform %q: only linux images can be built", s)
	}
	switch p.Architecture {
	case "x86_64", "x86-64":
		p.Architecture = "amd64"
	case "aarch64":
		p.Architecture = "arm64"
	case "i386", "i686":
		p.Architecture = "386"
	case "armhf":
		p.Architecture, p.Variant = "arm", "v7"
	case "armel":
		p.Architecture, p.Variant = "arm", "v6"
	}
	switch {
	case p.Architecture == "arm64" && p.Variant == "v8":
		p.Variant = ""
	case p.Architecture == "arm" && p.Variant == "":
		p.Variant = "v7"
	case p.Architecture == "amd64" && p.Variant == "v1":
		p.Variant = ""
	}
	if _, ok := qemuName[p.Architecture]; !ok {
		return ocispec.Platform{}, fmt.Errorf("platform %q: unknown architecture %q", s, p.Architecture)
	}
	return p, nil
}

func platformString(p ocispec.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// samePlatform compares as image configs spell platforms (an arm64 image
// may say variant v8 or nothing).
func samePlatform(a, b ocispec.Platform) bool {
	norm := func(p ocispec.Platform) string {
		q, err := ParsePlatform(platformString(p))
		if err != nil {
			return platformString(p)
		}
		return platformString(q)
	}
	return norm(a) == norm(b)
}

// qemuName maps GOARCH to the binfmt_misc entry qemu-user-static
// registers for it.
var qemuName = map[string]string{
	"amd64": "x86_64", "arm64": "aarch64", "arm": "arm", "386": "i386", "ppc64le": "ppc64le",
	"s390x": "s390x", "riscv64": "riscv64", "mips64le": "mips64el", "loong64": "loongarch64",
}

// binfmtDir is where the kernel lists binfmt_misc handlers (a variable
// for tests).
var binfmtDir = "/proc/sys/fs/binfmt_misc"

// canRun says whether RUN can execute binaries of platform p here: the
// host's own, or one with an enabled qemu binfmt_misc handler registered
// with the F flag (the kernel opens the interpreter at registration, so it
// works inside the container's rootfs; Debian's qemu-user-static registers
// them so). binfmt_misc not mounted, no handler, a disabled one, or one
// without F: an error naming the platform and what to do.
func canRun(p ocispec.Platform) error {
	host := store.HostPlatform()
	if p.Architecture == host.Architecture || p.Architecture == "" {
		return nil
	}
	if host.Architecture == "amd64" && p.Architecture == "386" {
		return nil
	}
	what := fmt.Sprintf("RUN for %s on this %s host", platformString(p), platformString(host))
	if _, err := os.Stat(filepath.Join(binfmtDir, "register")); err != nil {
		return fmt.Errorf("%s needs a binfmt_misc handler, but binfmt_misc is not mounted at %s (mount -t binfmt_misc binfmt_misc %s, then apt-get install qemu-user-static, or update-binfmts --enable / systemd-binfmt if it is installed)",
			what, binfmtDir, binfmtDir)
	}
	entry := filepath.Join(binfmtDir, "qemu-"+qemuName[p.Architecture])
	data, err := os.ReadFile(entry)
	if err != nil {
		return fmt.Errorf("%s needs a binfmt_misc handler (%s; apt-get install qemu-user-static)", what, entry)
	}
	if !strings.HasPrefix(string(data), "enabled") {
		return fmt.Errorf("%s needs a binfmt_misc handler: %s is disabled (echo 1 > %s)", what, entry, entry)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if flags, ok := strings.CutPrefix(line, "flags: "); ok && !strings.Contains(flags, "F") {
			return fmt.Errorf("%s needs a binfmt_misc handler with the F flag: %s has flags %q, so its interpreter would be looked up inside the build's rootfs (re-register it with F, as Debian's qemu-user-static does)",
				what, entry, flags)
		}
	}
	return nil
}
