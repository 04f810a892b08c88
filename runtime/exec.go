package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v3"
	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/libcontainer"
	"github.com/myrun-org/myrun/specs"
)

func execCommand() *cli.Command {
	one := 1
	return &cli.Command{
		Name:      "exec",
		Usage:     "execute new process inside the container",
		ArgsUsage: "<container-id> <command> [command options]  || -p process.json <container-id>",
		Description: `exec starts one more process in a running container, in all of its
namespaces and its cgroup: the command line after the id, or the process
described by -p process.json. exec exits with the process's status, or
with 255 when the process could not be started at all.

    myrun exec ID ps -ef`,
		StopOnNthArg: &one,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "console-socket", Usage: "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal"},
			&cli.StringFlag{Name: "cwd", Usage: "current working directory in the container"},
			&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set environment variables"},
			&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a pseudo-TTY"},
			&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "UID (format: <uid>[:<gid>])"},
			&cli.IntSliceFlag{Name: "additional-gids", Aliases: []string{"g"}, Usage: "additional gids"},
			&cli.StringFlag{Name: "process", Aliases: []string{"p"}, Usage: "path to the process.json"},
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "detach from the container's process"},
			&cli.StringFlag{Name: "pid-file", Usage: "specify the file to write the process id to"},
			&cli.StringFlag{Name: "process-label", Usage: "set the asm process label for the process commonly used with selinux"},
			&cli.StringFlag{Name: "apparmor", Usage: "set the apparmor profile for the process"},
			&cli.BoolFlag{Name: "no-new-privs", Usage: "set the no new privileges value for the process"},
			&cli.StringSliceFlag{Name: "cap", Aliases: []string{"c"}, Usage: "add a capability to the bounding set for the process"},
			&cli.IntFlag{Name: "preserve-fds", Usage: "Pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)"},
			&cli.StringSliceFlag{Name: "cgroup", Usage: "run the process in an (existing) sub-cgroup(s). Format is [<controller>:]<cgroup>."},
			&cli.BoolFlag{Name: "ignore-paused", Usage: "allow exec in a paused container"},
			pidfdSocketFlag(),
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() < 1 {
				return fmt.Errorf("exec: requires at least 1 argument: <container-id>")
			}
			if err := execAction(cmd); err != nil {
				var ee exitError
				if errors.As(err, &ee) {
					return err
				}
				// runc's rule: 255 when exec itself failed, the
				// process's status otherwise.
				return failedError{code: 255, err: fmt.Errorf("exec failed: %w", err)}
			}
			return nil
		},
	}
}

func execAction(cmd *cli.Command) error {
	id := cmd.Args().First()
	r, err := newRuntime(cmd)
	if err != nil {
		return err
	}
	p, build, err := execProcess(cmd)
	if err != nil {
		return err
	}
	o := libcontainer.ExecOpts{
		ID: id, Process: p, BuildProcess: build, ConsoleSocket: cmd.String("console-socket"),
		PidFile: cmd.String("pid-file"), PreserveFds: int(cmd.Int("preserve-fds")),
		SubCgroups: cmd.StringSlice("cgroup"), IgnorePaused: cmd.Bool("ignore-paused"),
	}
	if cmd.Bool("detach") {
		pid, err := r.Exec(o)
		if err == nil {
			if err = sendPidfd(cmd.String("pidfd-socket"), pid); err != nil {
				unix.Kill(pid, unix.SIGKILL)
			}
		}
		return err
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return err
	}
	var tty *ttyProxy
	terminal := cmd.Bool("tty")
	if p != nil {
		terminal = p.Terminal
	}
	if terminal && o.ConsoleSocket == "" {
		if tty, err = newTTYProxy(); err != nil {
			return err
		}
		defer tty.close()
		o.ConsoleConn = tty.remote
	}
	// No signal.Stop: we exit right after, and unregistering
	// every signal costs a thread round trip each (~0.3 ms).
	sigs := forwardSignals()
	pid, err := r.Exec(o)
	if err != nil {
		return err
	}
	if err := sendPidfd(cmd.String("pidfd-socket"), pid); err != nil {
		unix.Kill(pid, unix.SIGKILL)
		return err
	}
	if tty != nil {
		tty.remote.Close()
		tty.startIfSent()
	}
	return exitCodeErr(waitForeground(pid, sigs, tty))
}

// execProcess reads the process from -p process.json, or returns how to
// build it from the container's own process with the command line's
// changes (Exec calls that with the process it reads anyway).
func execProcess(cmd *cli.Command) (*rspec.Process, func(rspec.Process) (*rspec.Process, error), error) {
	if path := cmd.String("process"); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, fmt.Errorf("--process: %w", err)
		}
		var p rspec.Process
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, nil, fmt.Errorf("--process: %s: %w", path, err)
		}
		return &p, nil, nil
	}
	if cmd.Args().Len() < 2 {
		return nil, nil, fmt.Errorf("exec: requires at least 2 arguments: <container-id> <command>")
	}
	return nil, func(base rspec.Process) (*rspec.Process, error) { return cliProcess(cmd, base) }, nil
}

// cliProcess is the container's process with exec's command line applied.
// base's slices are shared with the caller's copy: they are replaced, or
// clipped before an append so that it copies.
func cliProcess(cmd *cli.Command, p rspec.Process) (*rspec.Process, error) {
	p.Args = cmd.Args().Slice()[1:]
	p.Terminal = cmd.Bool("tty")
	p.ConsoleSize = nil
	p.Env = append(append([]string{}, p.Env...), cmd.StringSlice("env")...)
	if cwd := cmd.String("cwd"); cwd != "" {
		p.Cwd = cwd
	}
	if u := cmd.String("user"); u != "" {
		uidStr, gidStr, hasGid := strings.Cut(u, ":")
		uid, err := strconv.ParseUint(uidStr, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("--user: parsing %q as uid: %w", uidStr, err)
		}
		if err := specs.CheckID(uint32(uid)); err != nil {
			return nil, fmt.Errorf("--user: uid %w", err)
		}
		p.User.UID = uint32(uid)
		if hasGid {
			gid, err := strconv.ParseUint(gidStr, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("--user: parsing %q as gid: %w", gidStr, err)
			}
			if err := specs.CheckID(uint32(gid)); err != nil {
				return nil, fmt.Errorf("--user: gid %w", err)
			}
			p.User.GID = uint32(gid)
		}
	}
	p.User.AdditionalGids = slices.Clip(p.User.AdditionalGids)
	for _, g := range cmd.IntSlice("additional-gids") {
		if g < 0 || g > specs.MaxID {
			return nil, fmt.Errorf("--additional-gids: invalid gid %d (range 0..%d)", g, specs.MaxID)
		}
		p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(g))
	}
	if c := cmd.StringSlice("cap"); len(c) > 0 {
		caps := rspec.LinuxCapabilities{}
		if p.Capabilities != nil {
			caps = *p.Capabilities
			caps.Bounding, caps.Effective, caps.Permitted = slices.Clip(caps.Bounding), slices.Clip(caps.Effective), slices.Clip(caps.Permitted)
		}
		for _, name := range c {
			caps.Bounding = append(caps.Bounding, name)
			caps.Effective = append(caps.Effective, name)
			caps.Permitted = append(caps.Permitted, name)
			// As runc >= 1.2: an ambient capability needs the inheritable
			// bit, which --cap does not add, so it goes to ambient only
			// when the process lists an inheritable set of its own.
			if caps.Inheritable != nil {
				caps.Ambient = append(caps.Ambient, name)
			}
		}
		p.Capabilities = &caps
	}
	if cmd.IsSet("no-new-privs") {
		p.NoNewPrivileges = cmd.Bool("no-new-privs")
	}
	if v := cmd.String("apparmor"); v != "" {
		p.ApparmorProfile = v
	}
	if v := cmd.String("process-label"); v != "" {
		p.SelinuxLabel = v
	}
	return &p, nil
}
