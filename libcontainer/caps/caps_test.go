package caps

import (
	"strings"
	"testing"

	"github.com/moby/sys/capability"

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

// A capability the runtime does not hold is dropped (and reported), not an
// error: the spec says such a config SHOULD NOT fail.
func TestGrantableDropsWhatIsNotHeld(t *testing.T) {
	held := func(c capability.Cap) bool { return c != capability.CAP_SYS_RESOURCE }
	keep, dropped := grantable([]capability.Cap{capability.CAP_CHOWN, capability.CAP_SYS_RESOURCE, capability.CAP_KILL}, held)
	if len(keep) != 2 || keep[0] != capability.CAP_CHOWN || keep[1] != capability.CAP_KILL {
		t.Fatalf("keep = %v", keep)
	}
	if len(dropped) != 1 || dropped[0] != capability.CAP_SYS_RESOURCE {
		t.Fatalf("dropped = %v", dropped)
	}
}

// Every known capability requested: whatever this process lacks appears
// in Dropped by field, and New does not fail.
func TestNewReportsDropped(t *testing.T) {
	all := All()
	k, err := New(&rspec.LinuxCapabilities{Bounding: all, Permitted: all, Effective: all})
	if err != nil {
		t.Fatal(err)
	}
	c, err := capability.NewPid2(0)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Load(); err != nil {
		t.Fatal(err)
	}
	last, _ := capability.LastCap()
	want := 0
	for _, x := range capability.ListKnown() {
		if x <= last && !c.Get(capability.BOUNDING, x) {
			want += 3
		}
	}
	if len(k.Dropped) != want {
		t.Fatalf("Dropped = %v, want %d entries", k.Dropped, want)
	}
	for _, d := range k.Dropped {
		if !strings.HasPrefix(d, "process.capabilities.") {
			t.Fatalf("dropped entry %q does not name its field", d)
		}
	}
}

func TestMasks(t *testing.T) {
	k, err := New(&rspec.LinuxCapabilities{
		Bounding: []string{"CAP_CHOWN", "CAP_KILL"}, Effective: []string{"CAP_KILL"},
		Permitted: []string{"CAP_KILL"}, Inheritable: []string{"CAP_KILL"}, Ambient: []string{"CAP_KILL"},
	})
	if err != nil {
		t.Fatal(err)
	}
	sets, last, err := k.Masks()
	if err != nil {
		t.Fatal(err)
	}
	if lc, _ := capability.LastCap(); last != int(lc) {
		t.Errorf("last %d, want %d", last, lc)
	}
	chown, kill := uint64(1)<<capability.CAP_CHOWN, uint64(1)<<capability.CAP_KILL
	if want := [5]uint64{chown | kill, kill, kill, kill, kill}; sets != want {
		t.Errorf("masks %#x, want %#x", sets, want)
	}
}

// `runc spec` lists ambient capabilities without inheritable ones: those
// cannot be raised, so they are left out with a warning, not an error.
func TestAmbientNeedsPermittedAndInheritable(t *testing.T) {
	k, err := New(&rspec.LinuxCapabilities{
		Bounding: []string{"CAP_KILL", "CAP_CHOWN", "CAP_NET_RAW"}, Effective: []string{"CAP_KILL", "CAP_CHOWN"},
		Permitted: []string{"CAP_KILL", "CAP_CHOWN"}, Inheritable: []string{"CAP_CHOWN", "CAP_NET_RAW"},
		Ambient: []string{"CAP_KILL", "CAP_CHOWN", "CAP_NET_RAW"},
	})
	if err != nil {
		t.Fatal(err)
	}
	sets, _, err := k.Masks()
	if err != nil {
		t.Fatal(err)
	}
	if want := uint64(1) << capability.CAP_CHOWN; sets[4] != want {
		t.Errorf("ambient %#x, want %#x", sets[4], want)
	}
	want := []string{"process.capabilities.ambient: CAP_KILL", "process.capabilities.ambient: CAP_NET_RAW"}
	if strings.Join(k.NotRaised, ",") != strings.Join(want, ",") {
		t.Errorf("NotRaised = %v, want %v", k.NotRaised, want)
	}
}

// ownBounding reads what the library's Load reads, and parseCapBnd names
// the file in its errors.
func TestOwnBounding(t *testing.T) {
	c, err := capability.NewPid2(0)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Load(); err != nil {
		t.Fatal(err)
	}
	own, err := ownBounding()
	if err != nil {
		t.Fatal(err)
	}
	last, _ := capability.LastCap()
	for x := capability.Cap(0); x <= last; x++ {
		if got := own&(1<<uint(x)) != 0; got != c.Get(capability.BOUNDING, x) {
			t.Errorf("%s: ownBounding %v, Load %v", x, got, !got)
		}
	}
	if n, err := parseCapBnd("Name:\tx\nCapBnd:\t000001ffffffffff\nCapAmb:\t0\n"); err != nil || n != 0x1ffffffffff {
		t.Errorf("parseCapBnd = %#x %v", n, err)
	}
	for _, bad := range []string{"Name:\tx\n", "CapBnd:\tzz\n"} {
		if _, err := parseCapBnd(bad); err == nil || !strings.Contains(err.Error(), "CapBnd") {
			t.Errorf("parseCapBnd(%q) = %v", bad, err)
		}
	}
}
