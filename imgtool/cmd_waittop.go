package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/myrun-org/myrun/imgtool/container"
)

func waitCommand() *cli.Command {
	return &cli.Command{
		Name:      "wait",
		Usage:     "Wait for containers to exit and print their exit codes",
		ArgsUsage: "NAME|ID [NAME|ID...]",
		Flags: []cli.Flag{
			&cli.DurationFlag{Name: "interval", Aliases: []string{"i"}, Value: 250 * time.Millisecond, Usage: "how often to check"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if err := needArgs(cmd, 1, -1); err != nil {
				return err
			}
			if cmd.Duration("interval") <= 0 {
				return fmt.Errorf("--interval %s: must be positive", cmd.Duration("interval"))
			}
			return eachContainer(cmd, func(cs *container.Manager, _ string, r *container.Record) (string, error) {
				code, err := cs.Wait(r, cmd.Duration("interval"))
				return strconv.Itoa(code), err
			})
		},
	}
}

func topCommand() *cli.Command {
	one := 1
	return &cli.Command{
		Name:         "top",
		Usage:        "Show the processes of a running container (ps(1) options may follow)",
		ArgsUsage:    "NAME|ID [ps options]",
		StopOnNthArg: &one,
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if err := needArgs(cmd, 1, -1); err != nil {
				return err
			}
			cs, r, err := lookupContainer(cmd)
			if err != nil {
				return err
			}
			return cs.Top(r, cmd.Args().Tail(), os.Stdout)
		},
	}
}
