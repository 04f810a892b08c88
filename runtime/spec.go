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
		Description: `The spec command creates the new specification file named "config.json" for
the bundle.

The spec generated is just a starter file. Editing of the spec is required to
achieve desired results. For example, the newly generated spec includes an args
parameter that is initially set to call the "sh" command when the container is
started. Calling "sh" may work for an ubuntu container or busybox, but will not
work for containers that do not include the "sh" program.

EXAMPLE:
  To run docker's hello-world container one needs to set the args parameter
in the spec to call hello. This can be done using the sed command or a text
editor. The following commands create a bundle for hello-world, change the
default args parameter in the spec from "sh" to "/hello", then run the hello
command in a new hello-world container named container1:

    mkdir hello
    cd hello
    docker pull hello-world
    docker export $(docker create hello-world) > hello-world.tar
    mkdir rootfs
    tar -C rootfs -xf hello-world.tar
    myrun spec
    sed -i 's;"sh";"/hello";' config.json
    myrun run container1

In the run command above, "container1" is the name for the instance of the
container that you are starting. The name you provide for the container instance
must be unique on your host.

When starting a container through myrun, myrun needs root privilege. If not
already running as root, you can use sudo to give myrun root privilege. For
example: "sudo myrun start container1" will give myrun root privilege to start the
container on your host.

Alternatively, you can start a rootless container, which has the ability to run
without root privileges. For this to work, the specification file needs to be
adjusted accordingly. You can pass the parameter --rootless to this command to
generate a proper rootless spec file.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Usage: "path to the root of the bundle directory"},
			&cli.BoolFlag{Name: "rootless", Usage: "generate a configuration for a rootless container"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if err := exactArgs(cmd, 0, "none"); err != nil {
				return err
			}
			s := specs.Default()
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
		Description: `Show the enabled features.
   The result is parsable as a JSON.
   See https://github.com/opencontainers/runtime-spec/blob/main/features.md for the type definition.`,
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
