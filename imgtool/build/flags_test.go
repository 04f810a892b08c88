package build

import (
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// Every flag that buildkit's parser accepts, per instruction, with a value
// it parses. A flag the build applies must be accepted by checkApplied;
// every other one must fail naming the flag and the line.
var buildkitFlags = []struct {
	line    string // instruction with the flag
	flag    string // as it must appear in the error
	applies bool
}{
	{"FROM --platform=linux/arm64 scratch", "--platform", true},
	{"COPY --from=x a /b", "--from", true},
	{"COPY --chown=1:1 a /b", "--chown", true},
	{"COPY --chmod=600 a /b", "--chmod", true},
	{"COPY --exclude=*.txt a /b", "--exclude", true},
	{"COPY --link a /b", "--link", true},
	{"COPY --parents a /b", "--parents", true},
	{"ADD --chown=1:1 a /b", "--chown", true},
	{"ADD --chmod=600 a /b", "--chmod", true},
	{"ADD --exclude=*.txt a /b", "--exclude", true},
	{"ADD --checksum=sha256:0000000000000000000000000000000000000000000000000000000000000000 http://x/a /b", "--checksum", true},
	{"ADD --unpack=false a.tar /b", "--unpack", true},
	{"ADD --link a /b", "--link", true},
	{"ADD --keep-git-dir https://x/r.git /b", "--keep-git-dir", true},
	{"RUN --mount=type=cache,target=/c true", "--mount", true},
	{"RUN --network=none true", "--network", true},
	{"RUN --security=insecure true", "--security", true},
	{"RUN --device=/dev/null true", "--device", false},
	{"HEALTHCHECK --interval=5s --timeout=1s --start-period=1s --start-interval=1s --retries=2 CMD true", "", true},
}

func TestEveryBuildkitFlagAppliedOrRefused(t *testing.T) {
	for _, c := range buildkitFlags {
		file := "FROM scratch\n" + c.line + "\n"
		if strings.HasPrefix(c.line, "FROM") {
			file = c.line + "\n"
		}
		line := strings.Count(file, "\n")
		_, err := parseContainerfile("Containerfile", []byte(file))
		if c.applies {
			if err != nil {
				t.Errorf("%s: %v", c.line, err)
			}
			continue
		}
		want := "Containerfile:" + strconv.Itoa(line) + ": " + strings.Fields(c.line)[0] + ": " + c.flag + " not supported"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", c.line, err, want)
		}
	}
}

// Every instruction buildkit parses maps to a type in applied, and every
// exported field of those types is either applied or named as a flag
// (so a buildkit upgrade that adds one shows up here, and is refused at
// build time until it is implemented). The table above must list every
// flag that flagOf knows.
func TestAppliedTableCoversBuildkit(t *testing.T) {
	all := "ARG a\nFROM scratch\nENV a=b\nLABEL a=b\nMAINTAINER m\nWORKDIR /w\nUSER u\nEXPOSE 80\n" +
		"VOLUME /v\nSTOPSIGNAL 9\nENTRYPOINT x\nCMD x\nSHELL [\"sh\"]\nHEALTHCHECK NONE\nONBUILD RUN x\n" +
		"RUN x\nCOPY a b\nADD a b\n"
	res, err := parser.Parse(strings.NewReader(all))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[reflect.Type]bool{}
	for _, n := range res.AST.Children {
		v, err := instructions.ParseInstruction(n)
		if err != nil {
			t.Fatal(err)
		}
		ty := reflect.TypeOf(v).Elem()
		seen[ty] = true
		fields, ok := applied[ty]
		if !ok {
			t.Errorf("%s: %s not in applied", n.Value, ty)
			continue
		}
		walkFields(reflect.ValueOf(v).Elem(), func(name string, _ reflect.Value) {
			if !fields[name] && flagOf[name] == "" {
				t.Errorf("%s: field %s of %s is neither applied nor a known flag", n.Value, name, ty)
			}
		})
	}
	if len(seen) != len(applied) {
		t.Errorf("applied lists %d types, buildkit parsed %d", len(applied), len(seen))
	}
	for field, fl := range flagOf {
		found := false
		for _, c := range buildkitFlags {
			found = found || c.flag == fl
		}
		if !found {
			t.Errorf("flag %s (field %s) has no row in buildkitFlags", fl, field)
		}
	}
	// RUN's flags come from parse hooks, not fields: each one buildkit
	// registers must have a row. An unknown flag is a parse error, so a
	// flag parses only if buildkit knows it.
	for _, fl := range []string{"mount", "network", "security", "device"} {
		found := false
		for _, c := range buildkitFlags {
			found = found || c.flag == "--"+fl
		}
		if !found {
			t.Errorf("RUN --%s has no row", fl)
		}
	}
	if _, err := parseContainerfile("Containerfile", []byte("FROM scratch\nRUN --nosuchflag=1 true\n")); err == nil {
		t.Fatal("an unknown RUN flag parsed")
	}
}
