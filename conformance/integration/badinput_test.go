//go:build integration

package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// Each bad input must fail with an error naming the field and leave
// nothing behind (the bundle cleanup checks state dirs, cgroups, mounts).
func TestBadInput(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(b *bundle)
		want   string
	}{
		{"missing config", func(b *bundle) { os.Remove(filepath.Join(b.dir, "config.json")) }, "config.json"},
		{"invalid json", func(b *bundle) { os.WriteFile(filepath.Join(b.dir, "config.json"), []byte("{"), 0o644) }, "config.json"},
		{"unknown major", func(b *bundle) { b.spec.Version = "2.0.0"; b.write() }, "ociVersion"},
		{"missing rootfs", func(b *bundle) { b.spec.Root.Path = "nope"; b.write() }, "root.path"},
		{"unknown namespace", func(b *bundle) {
			b.spec.Linux.Namespaces = append(b.spec.Linux.Namespaces, rspec.LinuxNamespace{Type: "foo"})
			b.write()
		}, "linux.namespaces"},
		{"relative mount destination", func(b *bundle) {
			b.spec.Mounts = append(b.spec.Mounts, rspec.Mount{Destination: "tmp", Type: "tmpfs", Source: "tmpfs"})
			b.write()
		}, "mounts["},
		{"missing bind source", func(b *bundle) {
			b.spec.Mounts = append(b.spec.Mounts, rspec.Mount{Destination: "/x", Type: "bind", Source: "/nonexistent-myrun", Options: []string{"bind"}})
			b.write()
		}, "source"},
		{"hook not executable", func(b *bundle) {
			p := filepath.Join(b.dir, "hook.sh")
			os.WriteFile(p, []byte("#!/bin/sh\n"), 0o644)
			b.spec.Hooks = &rspec.Hooks{Prestart: []rspec.Hook{{Path: p}}}
			b.write()
		}, "hooks.prestart[0]"},
		{"empty args", func(b *bundle) { b.spec.Process.Args = nil; b.write() }, "process.args"},
		{"missing executable", func(b *bundle) { b.spec.Process.Args = []string{"/no/such/binary"}; b.write() }, "no/such/binary"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newBundle(t, []string{"true"}, nil)
			c.mutate(b)
			_, errs, code := b.myrun("create", "--bundle", b.dir, b.id)
			if code == 0 {
				t.Fatalf("create succeeded")
			}
			if !strings.Contains(errs, c.want) {
				t.Fatalf("error %q does not name %q", errs, c.want)
			}
			b.assertNothingLeft()
		})
	}
}
