package specs

import (
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func TestLSMRequestedWithoutLSM(t *testing.T) {
	se, aa := selinuxEnabled, apparmorEnabled
	defer func() { selinuxEnabled, apparmorEnabled = se, aa }()
	selinuxEnabled = func() bool { return false }
	apparmorEnabled = func() bool { return false }
	s := &rspec.Spec{
		Process: &rspec.Process{SelinuxLabel: "system_u:system_r:container_t:s0", ApparmorProfile: "p"},
		Linux:   &rspec.Linux{MountLabel: "system_u:object_r:container_file_t:s0"},
	}
	p := problems{file: "config.json"}
	checkLSM(&p, s)
	err := p.err()
	if w := Warnings(s); len(w) != 1 || !strings.Contains(w[0], "linux.mountLabel") {
		t.Errorf("warnings %v", w)
	}
	for _, f := range []string{"process.selinuxLabel", "process.apparmorProfile"} {
		if err == nil || !strings.Contains(err.Error(), f) {
			t.Errorf("error %v does not name %s", err, f)
		}
	}
	selinuxEnabled = func() bool { return true }
	apparmorEnabled = func() bool { return true }
	p = problems{file: "config.json"}
	checkLSM(&p, s)
	if err := p.err(); err != nil {
		t.Fatalf("with the LSMs enabled: %v", err)
	}
	if err := ValidateProcess(&rspec.Process{Args: []string{"x"}, Cwd: "/", SelinuxLabel: "l"}, nil, "process.json"); err != nil {
		t.Fatalf("exec with SELinux enabled: %v", err)
	}
}
