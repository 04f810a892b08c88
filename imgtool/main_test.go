package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/myrun-org/myrun/imgtool/build"
	"github.com/myrun-org/myrun/imgtool/container"
	"github.com/myrun-org/myrun/imgtool/store"
)

func TestApplyChange(t *testing.T) {
	var c store.Config
	for _, ch := range []string{`CMD ["sh"]`, "ENTRYPOINT run it", "ENV A=b", "WORKDIR /w", "USER 1", "EXPOSE 80", "LABEL k=v", "STOPSIGNAL 9"} {
		if err := applyChange(&c, ch); err != nil {
			t.Fatal(err)
		}
	}
	if c.Cmd[0] != "sh" || c.Entrypoint[2] != "run it" || c.Env[0] != "A=b" || c.WorkingDir != "/w" || c.Labels["k"] != "v" {
		t.Fatalf("%+v", c)
	}
	if _, ok := c.ExposedPorts["80/tcp"]; !ok {
		t.Fatal("port")
	}
	if err := applyChange(&c, "RUN x"); err == nil {
		t.Fatal("RUN accepted as a change")
	}
}

func TestParseIDMaps(t *testing.T) {
	m, err := parseIDMaps([]string{"0:100000:65536"})
	if err != nil || m[0].HostID != 100000 || m[0].Size != 65536 {
		t.Fatalf("%+v %v", m, err)
	}
	if _, err := parseIDMaps([]string{"0:1"}); err == nil {
		t.Fatal("bad map accepted")
	}
}

func TestExitCodeOfFailedRun(t *testing.T) {
	err := fmt.Errorf("build: %w", &build.StepError{File: "Containerfile", Line: 2, Instr: "RUN", Err: &build.ExitError{Args: "sh -c exit 3", Status: 3}})
	if c := exitCode(err); c != 3 {
		t.Fatalf("exit code %d, want 3", c)
	}
	if c := exitCode(errors.New("x")); c != 125 {
		t.Fatalf("exit code %d, want 125", c)
	}
	if c := exitCode(&build.ExitError{Status: -1}); c != 125 {
		t.Fatalf("signalled: exit code %d, want 125", c)
	}
}

func TestCLIWrongArgs(t *testing.T) {
	root := t.TempDir()
	for _, args := range [][]string{{"unpack", "x"}, {"tag", "x"}, {"inspect"}} {
		err := newApp().Run(context.Background(), append([]string{"myimg", "--root", root}, args...))
		if err == nil {
			t.Fatalf("%v: no error", args)
		}
	}
	if err := newApp().Run(context.Background(), []string{"myimg", "--root", root, "images", "-q"}); err != nil {
		t.Fatal(err)
	}
}

func TestListFormatRefusedBesideOtherOutputs(t *testing.T) {
	root := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"images", "--format", "json", "--quiet"}, "--format and --json/--quiet do not go together"},
		{[]string{"images", "--format", "json", "--json"}, "--format and --json/--quiet do not go together"},
		{[]string{"ps", "--format", "json", "-q"}, "--format and --quiet do not go together"},
		{[]string{"volume", "ls", "--format", "json", "-q"}, "--format and --quiet do not go together"},
	} {
		err := newApp().Run(context.Background(), append([]string{"myimg", "--root", root}, c.args...))
		if err == nil || err.Error() != c.want {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
	}
}

func TestWriteFormattedNoRows(t *testing.T) {
	var b bytes.Buffer
	if err := writeFormatted[volumeRow, *container.VolumeInfo](&b, "json", nil, nil, nil); err != nil || b.String() != "[]\n" {
		t.Fatalf("json of no rows: %q, %v; want [] as podman", b.String(), err)
	}
	b.Reset()
	if err := writeFormatted[volumeRow, *container.VolumeInfo](&b, "table {{.Name}}", nil, nil, map[string]string{"Name": "VOLUME NAME"}); err != nil || b.String() != "VOLUME NAME\n" {
		t.Fatalf("table of no rows: %q, %v; want the header alone", b.String(), err)
	}
}
