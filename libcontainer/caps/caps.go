// Package caps applies the five capability sets of process.capabilities to
// the calling thread (which must be the one that execve()s).
package caps

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"

	"github.com/moby/sys/capability"
	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/myrun-org/myrun/libcontainer/internal/smallfile"
)

// byName is built on first use: most myrun commands never need it.
var byName = sync.OnceValue(func() map[string]capability.Cap {
	m := map[string]capability.Cap{}
	for _, c := range capability.ListKnown() {
		m["CAP_"+strings.ToUpper(c.String())] = c
	}
	return m
})

// Known reports whether name (e.g. "CAP_SYS_ADMIN") is a capability we know.
func Known(name string) bool {
	_, ok := byName()[name]
	return ok
}

// All lists every known capability name, for `myrun features`.
func All() []string {
	var out []string
	for _, c := range capability.ListKnown() {
		out = append(out, "CAP_"+strings.ToUpper(c.String()))
	}
	return out
}

// resolve maps names to caps, skipping ones this kernel does not have
// (as runc does: a newer config on an older kernel still runs).
func resolve(names []string, last capability.Cap) ([]capability.Cap, error) {
	var out []capability.Cap
	for _, n := range names {
		c, ok := byName()[n]
		if !ok {
			return nil, fmt.Errorf("unknown capability %q", n)
		}
		if c <= last {
			out = append(out, c)
		}
	}
	return out, nil
}

// Caps is a resolved capability configuration.
type Caps struct {
	c    capability.Capabilities
	sets *rspec.LinuxCapabilities
	// Dropped names the requested capabilities that cannot be granted
	// (not in the runtime's own bounding set), as "field: CAP_X". The
	// spec: log each as a warning, and do not fail.
	Dropped []string
	// NotRaised names the ambient capabilities left out because they are
	// not both permitted and inheritable (the kernel would refuse them).
	NotRaised []string
}

// New prepares the configured sets; nil means "no capabilities at all".
// An unknown name is an error; a known one we do not hold is dropped.
func New(sets *rspec.LinuxCapabilities) (*Caps, error) {
	if sets == nil {
		sets = &rspec.LinuxCapabilities{}
	}
	// Not Load: every set is cleared and set from sets below; only our
	// own bounding set is read, without Load's capget, *os.File (the
	// netpoller's start) and fmt scan of /proc/self/status.
	c, err := capability.NewPid2(0)
	if err != nil {
		return nil, err
	}
	last, err := capability.LastCap()
	if err != nil {
		return nil, err
	}
	own, err := ownBounding()
	if err != nil {
		return nil, err
	}
	held := func(x capability.Cap) bool { return x < 64 && own&(1<<uint(x)) != 0 }
	k := &Caps{c: c, sets: sets}
	c.Clear(capability.CAPS | capability.BOUNDS | capability.AMBS)
	for _, s := range []struct {
		which capability.CapType
		names []string
		field string
	}{
		{capability.BOUNDING, sets.Bounding, "bounding"},
		{capability.EFFECTIVE, sets.Effective, "effective"},
		{capability.PERMITTED, sets.Permitted, "permitted"},
		{capability.INHERITABLE, sets.Inheritable, "inheritable"},
		{capability.AMBIENT, sets.Ambient, "ambient"},
	} {
		list, err := resolve(s.names, last)
		if err != nil {
			return nil, fmt.Errorf("process.capabilities.%s: %w", s.field, err)
		}
		list, dropped := grantable(list, held)
		for _, x := range dropped {
			k.Dropped = append(k.Dropped, fmt.Sprintf("process.capabilities.%s: CAP_%s", s.field, strings.ToUpper(x.String())))
		}
		if s.which == capability.AMBIENT {
			// The kernel raises an ambient capability only when it is
			// both permitted and inheritable; `runc spec` lists ambient
			// without inheritable, and runc runs such a config.
			list, dropped = grantable(list, func(x capability.Cap) bool {
				return c.Get(capability.PERMITTED, x) && c.Get(capability.INHERITABLE, x)
			})
			for _, x := range dropped {
				k.NotRaised = append(k.NotRaised, fmt.Sprintf("process.capabilities.ambient: CAP_%s", strings.ToUpper(x.String())))
			}
		}
		c.Set(s.which, list...)
	}
	return k, nil
}

// ownBounding is our bounding set, the CapBnd line of /proc/self/status.
func ownBounding() (uint64, error) {
	b, err := smallfile.Read("/proc/self/status")
	if err != nil {
		return 0, err
	}
	return parseCapBnd(string(b))
}

func parseCapBnd(status string) (uint64, error) {
	for line := range strings.SplitSeq(status, "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/self/status: CapBnd: %w", err)
			}
			return n, nil
		}
	}
	return 0, errors.New("/proc/self/status: no CapBnd line")
}

// grantable splits list into what held allows and what it does not.
func grantable(list []capability.Cap, held func(capability.Cap) bool) (keep, dropped []capability.Cap) {
	for _, x := range list {
		if held(x) {
			keep = append(keep, x)
		} else {
			dropped = append(dropped, x)
		}
	}
	return keep, dropped
}

// WarnDropped logs each capability that could not be granted.
func (k *Caps) WarnDropped(log *slog.Logger) {
	for _, d := range k.Dropped {
		log.Warn(d + " cannot be granted (not in the runtime's bounding set); dropped")
	}
	for _, d := range k.NotRaised {
		log.Warn(d + " cannot be raised (not in both permitted and inheritable); dropped")
	}
}

// ApplyBounding drops everything outside the bounding set; it needs
// CAP_SETPCAP, so it runs before switching to the container user.
func (k *Caps) ApplyBounding() error {
	if err := k.c.Apply(capability.BOUNDS); err != nil {
		return fmt.Errorf("applying bounding capabilities: %w", err)
	}
	return nil
}

// ApplyCaps sets effective, permitted, inheritable and ambient; it runs
// after the uid switch (with PR_SET_KEEPCAPS held across it).
func (k *Caps) ApplyCaps() error {
	if err := k.c.Apply(capability.CAPS); err != nil {
		return fmt.Errorf("applying capabilities: %w", err)
	}
	if err := k.c.Apply(capability.AMBS); err != nil {
		return fmt.Errorf("applying ambient capabilities: %w", err)
	}
	return nil
}

// Masks returns the five sets as bit masks, in the order bounding,
// effective, permitted, inheritable, ambient, and the highest capability
// this kernel has, for an applier outside Go (the constructor's exec path).
func (k *Caps) Masks() (sets [5]uint64, last int, err error) {
	lc, err := capability.LastCap()
	if err != nil {
		return sets, 0, err
	}
	for i, which := range []capability.CapType{capability.BOUNDING, capability.EFFECTIVE, capability.PERMITTED, capability.INHERITABLE, capability.AMBIENT} {
		for x := capability.Cap(0); x <= lc && x < 64; x++ {
			if k.c.Get(which, x) {
				sets[i] |= 1 << uint(x)
			}
		}
	}
	return sets, int(lc), nil
}
