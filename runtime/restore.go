package main

import (
	"context"
	"os"

	"github.com/urfave/cli/v3"
	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/libcontainer"
)

func restoreCommand() *cli.Command {
	return &cli.Command{
		Name:      "restore",
		Usage:     "restore a container from a previous checkpoint",
		ArgsUsage: "<container-id>",
		Description: `The restore command restores the saved state of a container instance with
CRIU, under <container-id>, with the bundle's config.json.`,
		Flags: append(criuFlags(),
			&cli.StringFlag{Name: "console-socket", Usage: "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal"},
			&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Value: ".", Usage: "path to the root of the bundle directory"},
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "detach from the container's process"},
			&cli.StringFlag{Name: "pid-file", Usage: "specify the file to write the process id to"},
			&cli.BoolFlag{Name: "no-subreaper", Usage: "disable the use of the subreaper used to reap reparented processes"},
			&cli.BoolFlag{Name: "no-pivot", Usage: "do not use pivot root to jail process inside rootfs (CRIU sets up the root itself)"},
			&cli.StringFlag{Name: "lsm-profile", Usage: "Specify an LSM profile to be used during restore in the form of TYPE:NAME"},
			&cli.StringFlag{Name: "lsm-mount-context", Usage: "Specify an LSM mount context to be used during restore"},
		),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if err := exactArgs(cmd, 1, "<container-id>"); err != nil {
				return err
			}
			r, err := newRuntime(cmd)
			if err != nil {
				return err
			}
			detach := cmd.Bool("detach")
			if !detach && !cmd.Bool("no-subreaper") {
				// The restored tree is our child (CRIU's rst-sibling);
				// orphans of it come to us too.
				if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
					return err
				}
			}
			var sigs *signals
			if !detach {
				sigs = forwardSignals()
			}
			id := cmd.Args().First()
			pid, err := r.Restore(libcontainer.RestoreOpts{
				CriuPath:          cmd.String("criu"),
				ID:                id,
				Bundle:            cmd.String("bundle"),
				ConsoleSocket:     cmd.String("console-socket"),
				PidFile:           cmd.String("pid-file"),
				NoPivot:           cmd.Bool("no-pivot"),
				ImagePath:         imagePath(cmd),
				WorkPath:          cmd.String("work-path"),
				TCPEstablished:    cmd.Bool("tcp-established"),
				ExtUnixSk:         cmd.Bool("ext-unix-sk"),
				ShellJob:          cmd.Bool("shell-job"),
				FileLocks:         cmd.Bool("file-locks"),
				ManageCgroupsMode: cmd.String("manage-cgroups-mode"),
				EmptyNs:           cmd.StringSlice("empty-ns"),
				AutoDedup:         cmd.Bool("auto-dedup"),
				LazyPages:         cmd.Bool("lazy-pages"),
				LsmProfile:        cmd.String("lsm-profile"),
				LsmMountContext:   cmd.String("lsm-mount-context"),
				Stdio:             [3]*os.File{os.Stdin, os.Stdout, os.Stderr},
				CriuTimeout:       criuTimeout(cmd),
			})
			if err != nil || detach {
				return err
			}
			code := waitForeground(pid, sigs, nil)
			r.Delete(id, true)
			if code != 0 {
				return exitError{code}
			}
			return nil
		},
	}
}
