package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v3"

	"github.com/myrun-org/myrun/libcontainer/cgroups"
	"github.com/myrun-org/myrun/libcontainer/seccomp"
	"github.com/myrun-org/myrun/specs"
)

func specVersion() string { return rspec.Version }

func specCommand() *cli.Command {
	return &cli.Command{
		Name:      "spec",
		Usage:     "create a new specification file",
		ArgsUsage: " ",
		Description: `spec writes a starter config.json into the bundle directory: it runs
"sh" with a terminal, in new namespaces, with a read-only root filesystem
named "rootfs". Edit it (process.args at least) before "myrun run".
--rootless writes one an unprivileged user can run (a user namespace
mapping the caller to root, no cgroup limits).`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Usage: "path to the root of the bundle directory"},
			&cli.BoolFlag{Name: "rootless", Usage: "generate a configuration for a rootless container"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if err := exactArgs(cmd, 0, "none"); err != nil {
				return err
			}
			s := specs.Default()
			specs.ForHost(s, cgroups.Mode() == cgroups.ModeV2)
			if cmd.Bool("rootless") {
				specs.ToRootless(s, uint32(os.Geteuid()), uint32(os.Getegid()))
			}
			path := "config.json"
			if b := cmd.String("bundle"); b != "" {
				path = filepath.Join(b, path)
			}
			return specs.WriteSpec(path, s, false)
		},
	}
}

func featuresCommand() *cli.Command {
	return &cli.Command{
		Name:      "features",
		Usage:     "show the enabled features",
		ArgsUsage: " ",
		Description: `features prints, as the runtime spec's features JSON, what this build
and host support: namespaces, capabilities, mount options, seccomp, cgroups.`,
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if err := exactArgs(cmd, 0, "none"); err != nil {
				return err
			}
			f := specs.Features(seccomp.Features(), cgroups.Features())
			b, err := json.MarshalIndent(f, "", "    ")
			if err != nil {
				return err
			}
			fmt.Println(string(b))
			return nil
		},
	}
}
