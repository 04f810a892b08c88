package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/urfave/cli/v3"
	"golang.org/x/sys/unix"
)

// parseSignal accepts "KILL", "SIGKILL", "kill" or "9", and 0 (as runc
// >= 1.2: no signal is sent, kill only fails when the container does not
// run).
func parseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal %q", s)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	sig := unix.SignalNum(name)
	if sig == 0 {
		return 0, fmt.Errorf("unknown signal %q", s)
	}
	return sig, nil
}

func killCommand() *cli.Command {
	return &cli.Command{
		Name:      "kill",
		Usage:     "kill sends the specified signal (default: SIGTERM) to the container's init process",
		ArgsUsage: "<container-id> [signal]",
		Description: `kill signals the container's init (SIGTERM unless a signal is given, by
name with or without SIG, or by number); --all signals every process of
the container.

    myrun kill ID KILL`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "send the specified signal to all processes inside the container"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			n := cmd.Args().Len()
			if n < 1 || n > 2 {
				return fmt.Errorf("kill: requires 1 or 2 arguments: <container-id> [signal]")
			}
			sigStr := "SIGTERM"
			if n == 2 {
				sigStr = cmd.Args().Get(1)
			}
			sig, err := parseSignal(sigStr)
			if err != nil {
				return err
			}
			r, err := newRuntime(cmd)
			if err != nil {
				return err
			}
			return r.Kill(cmd.Args().First(), sig, cmd.Bool("all"))
		},
	}
}

func deleteCommand() *cli.Command {
	return &cli.Command{
		Name:      "delete",
		Aliases:   []string{"rm"},
		Usage:     "delete any resources held by the container often used with detached container",
		ArgsUsage: "<container-id>",
		Description: `delete removes a stopped container: its cgroup, its state, and it runs
the poststop hooks. --force kills a container that still runs first.`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "Forcibly deletes the container if it is still running (uses SIGKILL)"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if err := exactArgs(cmd, 1, "<container-id>"); err != nil {
				return err
			}
			r, err := newRuntime(cmd)
			if err != nil {
				return err
			}
			return r.Delete(cmd.Args().First(), cmd.Bool("force"))
		},
	}
}
