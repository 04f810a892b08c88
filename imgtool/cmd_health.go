package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v3"

	"github.com/myrun-org/myrun/imgtool/container"
)

// healthcheckCommand is `myimg healthcheck run`: one check now, as
// podman: exit 0 and no output when healthy, "unhealthy" and exit 1
// when the check failed, 125 when it could not run.
func healthcheckCommand() *cli.Command {
	return &cli.Command{
		Name:  "healthcheck",
		Usage: "Run a container's healthcheck",
		Commands: []*cli.Command{{
			Name:      "run",
			Usage:     "Run the healthcheck of a running container once and record the result",
			ArgsUsage: "NAME|ID",
			Action: func(ctx context.Context, cmd *cli.Command) error {
				if err := needArgs(cmd, 1, 1); err != nil {
					return err
				}
				cs, r, err := lookupContainer(cmd)
				if err != nil {
					return err
				}
				err = cs.HealthCheck(r)
				if errors.Is(err, container.ErrUnhealthy) {
					fmt.Println(container.HealthUnhealthy)
					os.Exit(1)
				}
				return err
			},
		}},
	}
}
