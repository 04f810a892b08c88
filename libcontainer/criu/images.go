package criu

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/myrun-org/myrun/libcontainer/criu/rpc"
)

// CRIU image magics (criu/include/magic.h): inventory.img begins with
// its own magic (other images with the common one, then theirs).
const (
	imgCommonMagic = 0x54564319
	inventoryMagic = 0x58313116
)

// CheckImageDir tells whether dir holds a CRIU dump: inventory.img with
// the right magics. flag names the option the path came from.
func CheckImageDir(flag, dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", flag, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s: %s: not a directory", flag, dir)
	}
	inv := filepath.Join(dir, "inventory.img")
	f, err := os.Open(inv)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s: %s: not a checkpoint image (no inventory.img)", flag, dir)
		}
		return fmt.Errorf("%s: %w", flag, err)
	}
	defer f.Close()
	var hdr [8]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil {
		return fmt.Errorf("%s: %s: corrupt checkpoint image (short header)", flag, inv)
	}
	m0, m1 := binary.LittleEndian.Uint32(hdr[:4]), binary.LittleEndian.Uint32(hdr[4:])
	if m0 != inventoryMagic && (m0 != imgCommonMagic || m1 != inventoryMagic) {
		return fmt.Errorf("%s: %s: corrupt checkpoint image (bad magic %x)", flag, inv, hdr)
	}
	return nil
}

// CheckPreDump tells whether dir holds a pre-dump: memory pages
// (pagemap-*.img) a later dump can be incremental to.
func CheckPreDump(flag, dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", flag, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s: %s: not a directory", flag, dir)
	}
	m, _ := filepath.Glob(filepath.Join(dir, "pagemap-*.img"))
	if len(m) == 0 {
		return fmt.Errorf("%s: %s: not a pre-dump (no pagemap-*.img)", flag, dir)
	}
	// criu 3.17 takes a parent whose pagemap it cannot read for none at
	// all and dumps on: a broken one is refused here instead.
	for _, p := range m {
		if err := checkCommonHeader(p); err != nil {
			return fmt.Errorf("%s: %s: corrupt pre-dump (%v)", flag, p, err)
		}
	}
	return nil
}

// checkCommonHeader checks that an image file begins with CRIU's common
// magic and a second (the image's own) word.
func checkCommonHeader(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var hdr [8]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil {
		return errors.New("short header")
	}
	if m := binary.LittleEndian.Uint32(hdr[:4]); m != imgCommonMagic {
		return fmt.Errorf("bad magic %x", hdr)
	}
	return nil
}

// ParseCgroupsMode maps --manage-cgroups-mode to CRIU's mode.
func ParseCgroupsMode(s string) (rpc.CriuCgMode, error) {
	switch s {
	case "", "soft":
		return rpc.CriuCgMode_SOFT, nil
	case "full":
		return rpc.CriuCgMode_FULL, nil
	case "strict":
		return rpc.CriuCgMode_STRICT, nil
	case "ignore":
		return rpc.CriuCgMode_IGNORE, nil
	}
	return 0, fmt.Errorf("--manage-cgroups-mode: invalid value %q (want soft, full, strict or ignore)", s)
}

// ParseEmptyNs maps --empty-ns names to CLONE_NEW* bits. CRIU supports
// only the network namespace here (as runc).
func ParseEmptyNs(names []string) (uint32, error) {
	var bits uint32
	for _, n := range names {
		switch n {
		case "network", "net":
			bits |= 0x40000000 // CLONE_NEWNET
		default:
			return 0, fmt.Errorf("--empty-ns: namespace %q not supported (only network)", n)
		}
	}
	return bits, nil
}

// ParsePageServer splits --page-server ADDRESS:PORT.
func ParsePageServer(s string) (string, int32, error) {
	i := strings.LastIndex(s, ":")
	if i <= 0 || i == len(s)-1 {
		return "", 0, fmt.Errorf("--page-server: %q: want ADDRESS:PORT", s)
	}
	var port int32
	if _, err := fmt.Sscanf(s[i+1:], "%d", &port); err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("--page-server: %q: bad port", s)
	}
	return strings.Trim(s[:i], "[]"), port, nil
}

// ConfigAnnotation names a container's own CRIU configuration file.
const ConfigAnnotation = "org.criu.config"

// DefaultConfigFile is used when the annotation is absent and it exists.
const DefaultConfigFile = "/etc/criu/myrun.conf"

// ConfigFile picks the CRIU config file for a container: the annotation's
// path (an empty value means none at all), else DefaultConfigFile if it
// exists. A named file that is missing is an error naming the annotation.
func ConfigFile(annotations map[string]string) (string, error) {
	if p, ok := annotations[ConfigAnnotation]; ok {
		if p == "" {
			return "", nil
		}
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("annotations[%q]: %w", ConfigAnnotation, err)
		}
		return p, nil
	}
	if _, err := os.Stat(DefaultConfigFile); err == nil {
		return DefaultConfigFile, nil
	}
	return "", nil
}

// DescriptorsFile records, at dump, what init's fds 0-2 were, so restore
// can hand CRIU its own stdio for pipes that were external.
const DescriptorsFile = "descriptors.json"

// WriteDescriptors saves the targets of /proc/pid/fd/{0,1,2} in dir.
func WriteDescriptors(dir string, pid int) error {
	d := make([]string, 3)
	for i := range d {
		t, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, i))
		if err == nil {
			d[i] = t
		}
	}
	b, _ := json.Marshal(d)
	return os.WriteFile(filepath.Join(dir, DescriptorsFile), b, 0o600)
}

// ReadDescriptors is WriteDescriptors' record (nil if there is none).
func ReadDescriptors(dir string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, DescriptorsFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var d []string
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", DescriptorsFile, err)
	}
	return d, nil
}

// External says whether a recorded descriptor was outside the container
// (a pipe or socket of the engine) and must be inherited on restore.
func External(desc string) bool {
	return strings.HasPrefix(desc, "pipe:") || strings.HasPrefix(desc, "socket:")
}

// LogError is the first error CRIU wrote to its log at path, from
// "Error (" on (the cause; later ones tend to be its consequences), or ""
// when the log cannot be read or holds none.
func LogError(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if i := strings.Index(line, "Error ("); i >= 0 {
			return strings.TrimSpace(line[i:])
		}
	}
	return ""
}
