package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"

	"github.com/urfave/cli/v3"
	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/libcontainer"
)

func createFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Value: ".", Usage: "path to the root of the bundle directory"},
		&cli.StringFlag{Name: "console-socket", Usage: "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal"},
		&cli.StringFlag{Name: "pid-file", Usage: "specify the file to write the process id to"},
		&cli.BoolFlag{Name: "no-pivot", Usage: "do not use pivot root to jail process inside rootfs. This should be used whenever the rootfs is on top of a ramdisk"},
		&cli.BoolFlag{Name: "no-new-keyring", Usage: "do not create a new session keyring for the container. This will cause the container to inherit the calling processes session key"},
		&cli.IntFlag{Name: "preserve-fds", Usage: "Pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)"},
		pidfdSocketFlag(),
	}
}

func pidfdSocketFlag() cli.Flag {
	return &cli.StringFlag{Name: "pidfd-socket", Usage: "path to an AF_UNIX socket that receives a pidfd of the container's process"}
}

// sendPidfd passes a pidfd of pid over the unix socket at path (runc's
// --pidfd-socket): engines use it to wait for and signal the process
// without pid reuse races.
func sendPidfd(path string, pid int) error {
	if path == "" {
		return nil
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("--pidfd-socket: pidfd_open(%d): %w", pid, err)
	}
	defer unix.Close(fd)
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return fmt.Errorf("--pidfd-socket: %w", err)
	}
	defer c.Close()
	if _, _, err := c.WriteMsgUnix([]byte("pidfd"), unix.UnixRights(fd), nil); err != nil {
		return fmt.Errorf("--pidfd-socket: sending the pidfd: %w", err)
	}
	return nil
}

// createAndSend is Create followed by --pidfd-socket; on a send failure
// the container is removed again.
func createAndSend(r *libcontainer.Runtime, cmd *cli.Command, o libcontainer.CreateOpts) (int, error) {
	if err := r.Create(o); err != nil {
		return 0, err
	}
	st, err := r.State(o.ID)
	if err == nil {
		err = sendPidfd(cmd.String("pidfd-socket"), st.Pid)
	}
	if err != nil {
		r.Delete(o.ID, true)
		return 0, err
	}
	return st.Pid, nil
}

// createOpts reads the shared create/run flags.
func createOpts(cmd *cli.Command, id string) libcontainer.CreateOpts {
	return libcontainer.CreateOpts{
		ID:            id,
		Bundle:        cmd.String("bundle"),
		ConsoleSocket: cmd.String("console-socket"),
		PidFile:       cmd.String("pid-file"),
		NoPivot:       cmd.Bool("no-pivot"),
		NoNewKeyring:  cmd.Bool("no-new-keyring"),
		PreserveFds:   int(cmd.Int("preserve-fds")) + listenFds(),
		ListenFds:     listenFds(),
	}
}

// listenFds counts socket-activation fds handed to us (systemd's
// LISTEN_FDS protocol: for us only when LISTEN_PID is our pid); they come
// first and are passed on like --preserve-fds.
func listenFds() int {
	if os.Getenv("LISTEN_PID") != strconv.Itoa(os.Getpid()) {
		return 0
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// bundleHelp ends the help of create and run.
const bundleHelp = `

--bundle (default: the current directory) is the OCI bundle: config.json
and the root filesystem it names. The process that runs is config.json's
process.args; "myrun spec" writes a starter config.json to edit.`

func createCommand() *cli.Command {
	return &cli.Command{
		Name:        "create",
		Usage:       "create a container",
		ArgsUsage:   "<container-id>",
		Description: "create sets a container up from a bundle and leaves its process waiting; \"myrun start\" lets it run." + bundleHelp,
		Flags:       createFlags(),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if err := exactArgs(cmd, 1, "<container-id>"); err != nil {
				return err
			}
			r, err := newRuntime(cmd)
			if err != nil {
				return err
			}
			_, err = createAndSend(r, cmd, createOpts(cmd, cmd.Args().First()))
			return err
		},
	}
}

func startCommand() *cli.Command {
	return idCommand("start", "executes the user defined process in a created container",
		`start lets the process of a container made by "myrun create" run; it
returns once the process has been started.`,
		(*libcontainer.Runtime).Start)
}
