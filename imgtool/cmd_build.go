package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/myrun-org/myrun/imgtool/build"
)

func buildCommand() *cli.Command {
	return &cli.Command{
		Name:      "build",
		Aliases:   []string{"bud"},
		Usage:     "Build an image using instructions from Containerfiles",
		ArgsUsage: "[CONTEXT]",
		Description: `Builds an image from a Containerfile (or Dockerfile) and a build context
directory. RUN instructions run in containers started with the runtime binary
(--runtime, $MYIMG_RUNTIME, else "myrun" beside myimg or in $PATH) in a new
network namespace with only loopback, unless --network=host.`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "tag", Aliases: []string{"t"}, Usage: "`name` to apply to the resulting image"},
			&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Usage: "`pathname` of a Containerfile (default CONTEXT/Containerfile or CONTEXT/Dockerfile)"},
			&cli.StringSliceFlag{Name: "build-arg", Usage: "`argument=value` to supply to the builder"},
			&cli.StringFlag{Name: "target", Usage: "set the target build `stage` to build"},
			&cli.BoolFlag{Name: "no-cache", Usage: "do not use existing cached images for the container build"},
			&cli.BoolFlag{Name: "layers", Value: true, Usage: "cache intermediate layers during build (false: one layer per stage)"},
			&cli.StringFlag{Name: "compression", Value: "gzip", Usage: "layer compression: gzip, zstd or none"},
			&cli.Int64Flag{Name: "timestamp", Value: -1, Usage: "set created timestamp and clamp file mtimes to `seconds` since the epoch (default $SOURCE_DATE_EPOCH)"},
			&cli.StringFlag{Name: "runtime", Usage: "`path` of the OCI runtime for RUN", Sources: cli.EnvVars("MYIMG_RUNTIME")},
			&cli.StringFlag{Name: "network", Usage: "network for RUN: private (loopback only, default) or host"},
			&cli.StringSliceFlag{Name: "allow", Usage: "`entitlement` for RUN: security.insecure (RUN --security=insecure runs privileged); network.host is accepted (RUN --network=host needs no entitlement, as in buildah)"},
			&cli.StringFlag{Name: "cgroup-parent", Value: "/myimg-build", Usage: "absolute cgroup `path` RUN containers are placed under"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "refrain from announcing build instructions and image read/write progress"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if err := needArgs(cmd, 0, 1); err != nil {
				return err
			}
			reexecInPrivateMountNS()
			s, err := openStore(cmd)
			if err != nil {
				return err
			}
			ctxDir := cmd.Args().First()
			if ctxDir == "" {
				ctxDir = "."
			}
			args := map[string]string{}
			for _, a := range cmd.StringSlice("build-arg") {
				k, v, ok := strings.Cut(a, "=")
				if !ok {
					// --build-arg NAME takes the value from the environment.
					if v, ok = os.LookupEnv(k); !ok {
						continue
					}
				}
				args[k] = v
			}
			ts, err := timestampFlag(cmd)
			if err != nil {
				return err
			}
			switch cmd.String("network") {
			case "", "private", "host":
			default:
				return fmt.Errorf("--network %q: want private or host", cmd.String("network"))
			}
			allowInsecure := false
			for _, a := range cmd.StringSlice("allow") {
				switch a {
				case "security.insecure":
					allowInsecure = true
				case "network.host":
				default:
					return fmt.Errorf("--allow %q: want security.insecure or network.host", a)
				}
			}
			o := build.Options{
				ContextDir: ctxDir, File: cmd.String("file"), Tags: cmd.StringSlice("tag"), BuildArgs: args,
				Target: cmd.String("target"), NoCache: cmd.Bool("no-cache"), Layers: cmd.Bool("layers"),
				Compression: cmd.String("compression"), Timestamp: ts, Runtime: findRuntime(cmd.String("runtime")),
				Network: cmd.String("network"), AllowInsecure: allowInsecure, CgroupParent: cmd.String("cgroup-parent"), Out: os.Stdout,
			}
			if cmd.Bool("quiet") {
				o.Out = nil
			}
			res, err := build.Build(s, o)
			if err != nil {
				return err
			}
			if cmd.Bool("quiet") {
				fmt.Println(res.ImageID)
			}
			return nil
		},
	}
}

// findRuntime picks the runtime: the flag/env value, else myrun next to
// our own executable, else myrun in PATH.
func findRuntime(flag string) string {
	if flag != "" {
		if p, err := exec.LookPath(flag); err == nil {
			if a, err := filepath.Abs(p); err == nil {
				return a
			}
		}
		return flag
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "myrun")
		if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
			return p
		}
	}
	if p, err := exec.LookPath("myrun"); err == nil {
		return p
	}
	return ""
}
