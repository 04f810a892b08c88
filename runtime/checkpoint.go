package main

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/myrun-org/myrun/libcontainer"
	"github.com/myrun-org/myrun/libcontainer/criu"
)

// defaultImagePath is runc's: ./checkpoint in the current directory.
func defaultImagePath() string {
	wd, err := os.Getwd()
	if err != nil {
		return "checkpoint"
	}
	return filepath.Join(wd, "checkpoint")
}

// criuFlags are the flags checkpoint and restore share.
func criuFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "image-path", Usage: "path for saving criu image files (default: ./checkpoint)"},
		&cli.StringFlag{Name: "work-path", Usage: "path for saving work files and logs (default: the image path)"},
		&cli.BoolFlag{Name: "tcp-established", Usage: "allow open tcp connections"},
		&cli.BoolFlag{Name: "ext-unix-sk", Usage: "allow external unix sockets"},
		&cli.BoolFlag{Name: "shell-job", Usage: "allow shell jobs"},
		&cli.BoolFlag{Name: "file-locks", Usage: "handle file locks, for safety"},
		&cli.StringFlag{Name: "manage-cgroups-mode", Usage: "cgroups mode: soft|full|strict|ignore (default: soft)"},
		&cli.StringSliceFlag{Name: "empty-ns", Usage: "create a namespace, but don't restore its properties (network only)"},
		&cli.BoolFlag{Name: "auto-dedup", Usage: "enable auto deduplication of memory images"},
		&cli.BoolFlag{Name: "lazy-pages", Usage: "use userfaultfd to lazily restore memory pages"},
		&cli.DurationFlag{Name: "criu-timeout", Usage: "how long to wait for each answer from CRIU before killing it and failing (0: no limit, as runc); unset: the container's " + criu.TimeoutAnnotation + " annotation, else $" + criu.TimeoutEnv + ", else " + criu.DefaultTimeout.String()},
	}
}

// criuTimeout is --criu-timeout, or -1 when it is not given (libcontainer
// then takes the annotation, the environment or the default).
func criuTimeout(cmd *cli.Command) time.Duration {
	if cmd.IsSet("criu-timeout") {
		return cmd.Duration("criu-timeout")
	}
	return -1
}

func imagePath(cmd *cli.Command) string {
	if p := cmd.String("image-path"); p != "" {
		return p
	}
	return defaultImagePath()
}

func checkpointCommand() *cli.Command {
	return &cli.Command{
		Name:      "checkpoint",
		Usage:     "checkpoint a running container",
		ArgsUsage: "<container-id>",
		Description: `The checkpoint command saves the state of the container instance with CRIU.
Unless --leave-running or --pre-dump is given, the container is stopped and
deleted afterwards.`,
		Flags: append(criuFlags(),
			&cli.StringFlag{Name: "parent-path", Usage: "path for previous criu image files in pre-dump (relative to the image path)"},
			&cli.BoolFlag{Name: "leave-running", Usage: "leave the process running after checkpointing"},
			&cli.BoolFlag{Name: "tcp-skip-in-flight", Usage: "skip in-flight tcp connections"},
			&cli.BoolFlag{Name: "link-remap", Usage: "allow one to link unlinked files back when possible"},
			&cli.IntFlag{Name: "status-fd", Value: -1, Usage: "criu writes \\0 to this FD once lazy-pages is ready"},
			&cli.StringFlag{Name: "page-server", Usage: "ADDRESS:PORT of the page server"},
			&cli.BoolFlag{Name: "pre-dump", Usage: "dump container's memory information only, leave the container running after this"},
		),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if err := exactArgs(cmd, 1, "<container-id>"); err != nil {
				return err
			}
			r, err := newRuntime(cmd)
			if err != nil {
				return err
			}
			return r.Checkpoint(cmd.Args().First(), libcontainer.CheckpointOpts{
				CriuPath:          cmd.String("criu"),
				ImagePath:         imagePath(cmd),
				WorkPath:          cmd.String("work-path"),
				ParentPath:        cmd.String("parent-path"),
				LeaveRunning:      cmd.Bool("leave-running"),
				TCPEstablished:    cmd.Bool("tcp-established"),
				TCPSkipInFlight:   cmd.Bool("tcp-skip-in-flight"),
				ExtUnixSk:         cmd.Bool("ext-unix-sk"),
				ShellJob:          cmd.Bool("shell-job"),
				LinkRemap:         cmd.Bool("link-remap"),
				LazyPages:         cmd.Bool("lazy-pages"),
				StatusFd:          int(cmd.Int("status-fd")),
				PageServer:        cmd.String("page-server"),
				FileLocks:         cmd.Bool("file-locks"),
				PreDump:           cmd.Bool("pre-dump"),
				ManageCgroupsMode: cmd.String("manage-cgroups-mode"),
				EmptyNs:           cmd.StringSlice("empty-ns"),
				AutoDedup:         cmd.Bool("auto-dedup"),
				CriuTimeout:       criuTimeout(cmd),
			})
		},
	}
}
