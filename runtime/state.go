package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/myrun-org/myrun/libcontainer"
)

func stateCommand() *cli.Command {
	return &cli.Command{
		Name:      "state",
		Usage:     "output the state of a container",
		ArgsUsage: "<container-id>",
		Description: `state prints the container's state as JSON (the runtime spec's fields
plus runc's created and owner).`,
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if err := exactArgs(cmd, 1, "<container-id>"); err != nil {
				return err
			}
			r, err := newRuntime(cmd)
			if err != nil {
				return err
			}
			s, err := r.State(cmd.Args().First())
			if err != nil {
				return err
			}
			b, err := json.MarshalIndent(s, "", "  ")
			if err != nil {
				return err
			}
			fmt.Println(string(b))
			return nil
		},
	}
}

func listCommand() *cli.Command {
	return &cli.Command{
		Name:        "list",
		Aliases:     []string{"ls"},
		Usage:       "lists containers started by myrun with the given root",
		ArgsUsage:   " ",
		Description: `list shows the containers whose state is under --root.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: `select one of: table or json (default: "table")`},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "display only container IDs"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if err := exactArgs(cmd, 0, "none"); err != nil {
				return err
			}
			r, err := newRuntime(cmd)
			if err != nil {
				return err
			}
			ids, err := r.List()
			if err != nil {
				return err
			}
			states := []*libcontainer.ContainerState{}
			for _, id := range ids {
				s, err := r.State(id)
				if err != nil {
					// A half-created or corrupt entry must not hide the rest.
					r.Log.Warn("skipping container", "id", id, "error", err)
					continue
				}
				states = append(states, s)
			}
			if cmd.Bool("quiet") {
				for _, s := range states {
					fmt.Println(s.ID)
				}
				return nil
			}
			switch cmd.String("format") {
			case "table":
				w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
				fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
				for _, s := range states {
					fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle, s.Created.Format(time.RFC3339Nano), s.Owner)
				}
				return w.Flush()
			case "json":
				return json.NewEncoder(os.Stdout).Encode(states)
			default:
				return fmt.Errorf("--format: invalid format option %q", cmd.String("format"))
			}
		},
	}
}
