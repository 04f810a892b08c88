package cgroups

import (
	"fmt"
	"strings"

	lib "github.com/opencontainers/cgroups"
	devcfg "github.com/opencontainers/cgroups/devices/config"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// defaultDeviceRules are always allowed after the spec's rules: the
// devices the runtime-spec says every container gets (null, zero, full,
// random, urandom, tty, console, ptmx and the pts ptys) and mknod of any
// device node (mknod itself still needs CAP_MKNOD), as runc does.
var defaultDeviceRules = []devcfg.Rule{
	{Type: devcfg.CharDevice, Major: devcfg.Wildcard, Minor: devcfg.Wildcard, Permissions: "m", Allow: true},
	{Type: devcfg.BlockDevice, Major: devcfg.Wildcard, Minor: devcfg.Wildcard, Permissions: "m", Allow: true},
	{Type: devcfg.CharDevice, Major: 1, Minor: 3, Permissions: "rwm", Allow: true},                 // null
	{Type: devcfg.CharDevice, Major: 1, Minor: 5, Permissions: "rwm", Allow: true},                 // zero
	{Type: devcfg.CharDevice, Major: 1, Minor: 7, Permissions: "rwm", Allow: true},                 // full
	{Type: devcfg.CharDevice, Major: 1, Minor: 8, Permissions: "rwm", Allow: true},                 // random
	{Type: devcfg.CharDevice, Major: 1, Minor: 9, Permissions: "rwm", Allow: true},                 // urandom
	{Type: devcfg.CharDevice, Major: 5, Minor: 0, Permissions: "rwm", Allow: true},                 // tty
	{Type: devcfg.CharDevice, Major: 5, Minor: 1, Permissions: "rwm", Allow: true},                 // console
	{Type: devcfg.CharDevice, Major: 5, Minor: 2, Permissions: "rwm", Allow: true},                 // ptmx
	{Type: devcfg.CharDevice, Major: 136, Minor: devcfg.Wildcard, Permissions: "rwm", Allow: true}, // pts
}

// deviceRules builds the device allow list: the spec's rules in order
// (over an implicit deny-all), then the defaults.
func deviceRules(r *specs.LinuxResources, devs []specs.LinuxDevice) ([]*devcfg.Rule, error) {
	var out []*devcfg.Rule
	if r != nil {
		for i, d := range r.Devices {
			rule, err := specDeviceRule(d)
			if err != nil {
				return nil, fmt.Errorf("linux.resources.devices[%d]: %w", i, err)
			}
			out = append(out, rule)
		}
	}
	for i := range defaultDeviceRules {
		rule := defaultDeviceRules[i]
		out = append(out, &rule)
	}
	// linux.devices only makes the nodes exist: access to them is what
	// linux.resources.devices (and the defaults) allow, as with runc. A
	// listed /dev/kmsg under a deny-all stays EPERM.
	for i, d := range devs {
		switch d.Type {
		case "c", "u", "b", "p":
		default:
			return nil, fmt.Errorf("linux.devices[%d].type: unknown device type %q", i, d.Type)
		}
	}
	return out, nil
}

func specDeviceRule(d specs.LinuxDeviceCgroup) (*devcfg.Rule, error) {
	rule := &devcfg.Rule{Allow: d.Allow, Major: devcfg.Wildcard, Minor: devcfg.Wildcard}
	switch d.Type {
	case "", "a":
		rule.Type = devcfg.WildcardDevice
	case "c":
		rule.Type = devcfg.CharDevice
	case "b":
		rule.Type = devcfg.BlockDevice
	default:
		return nil, fmt.Errorf("type: unknown device type %q", d.Type)
	}
	if d.Major != nil {
		rule.Major = *d.Major
	}
	if d.Minor != nil {
		rule.Minor = *d.Minor
	}
	access := d.Access
	if access == "" {
		access = "rwm"
	}
	if strings.Trim(access, "rwm") != "" {
		return nil, fmt.Errorf("access: %q must be a combination of r, w and m", d.Access)
	}
	rule.Permissions = devcfg.Permissions(access)
	return rule, nil
}

// writeDevicesV1 writes the allow list of a new, still empty v1 cgroup rule
// by rule, in the spec's order: the kernel lists exceptions in the order
// they were added, and the spec says entries apply in the listed order.
// (The library's emulator would write only a minimal diff, reordered.)
func writeDevicesV1(dir string, rules []*devcfg.Rule) error {
	if err := lib.WriteFile(dir, "devices.deny", "a"); err != nil {
		return err
	}
	for _, r := range rules {
		file := "devices.allow"
		if !r.Allow {
			file = "devices.deny"
		}
		if err := lib.WriteFile(dir, file, r.CgroupString()); err != nil {
			return fmt.Errorf("%s: %w", r.CgroupString(), err)
		}
	}
	return nil
}
