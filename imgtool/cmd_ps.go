package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/myrun-org/myrun/imgtool/container"
)

func psCommand() *cli.Command {
	return &cli.Command{
		Name:                   "ps",
		UseShortOptionHandling: true,
		Usage:                  "List containers",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "show all containers (default: running ones)"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "only display container IDs"},
			&cli.BoolFlag{Name: "no-trunc", Usage: "do not truncate IDs and commands"},
			&cli.StringSliceFlag{Name: "filter", Aliases: []string{"f"}, Usage: "show only containers matching `KEY=VALUE`: id, name (regexp), label (K or K=V), status (implies -a), exited, ancestor, before, since, network, health; a key given twice matches either value, different keys all"},
			&cli.StringFlag{Name: "format", Usage: "`json`, a Go template ({{.ID}} {{.Image}} {{.Command}} {{.Created}} {{.RunningFor}} {{.Status}} {{.State}} {{.Ports}} {{.Names}} {{.Pid}} {{.ExitCode}}) or 'table TEMPLATE'"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			cs, err := containersWith(cmd, 0, 0)
			if err != nil {
				return err
			}
			fl, err := parseFilters(cmd.StringSlice("filter"), psFilterKeys, "container")
			if err != nil {
				return err
			}
			match, err := psFilter(cs, fl)
			if err != nil {
				return err
			}
			list, err := cs.List()
			if err != nil {
				return err
			}
			showAll := cmd.Bool("all") || len(fl["status"]) > 0 // as podman: status implies -a
			var all []*container.Record
			for _, r := range list {
				if (showAll || cs.IsRunning(r)) && match(r, psState(cs, r)) {
					all = append(all, r)
				}
			}
			nt := cmd.Bool("no-trunc")
			f, err := listFormat(cmd, "quiet")
			if err != nil {
				return err
			}
			if f != "" {
				rows, js := psRows(cs, all, nt)
				return writeFormatted(os.Stdout, f, rows, js, psHeaders)
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 3, ' ', 0)
			if !cmd.Bool("quiet") {
				fmt.Fprintln(tw, "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES")
			}
			for _, r := range all {
				id := r.ID
				if !nt {
					id = container.ShortID(id)
				}
				if cmd.Bool("quiet") {
					fmt.Fprintln(tw, id)
					continue
				}
				c := psCommandColumn(r.Command, nt)
				var ports []string
				for _, p := range r.Network.Ports {
					ports = append(ports, p.String())
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", id, r.Image, c, ago(r.Created), cs.Status(r), strings.Join(ports, ","), r.Name)
			}
			return tw.Flush()
		},
	}
}

// eachContainer runs do on the container each argument names, in order,
// printing what it returns; the first error ends it.
func eachContainer(cmd *cli.Command, do func(cs *container.Manager, arg string, r *container.Record) (string, error)) error {
	cs, err := openContainers(cmd)
	if err != nil {
		return err
	}
	for _, a := range cmd.Args().Slice() {
		r, err := cs.Lookup(a)
		if err != nil {
			return err
		}
		out, err := do(cs, a, r)
		if err != nil {
			return err
		}
		fmt.Println(out)
	}
	return nil
}

func lookupContainer(cmd *cli.Command) (*container.Manager, *container.Record, error) {
	cs, err := openContainers(cmd)
	if err != nil {
		return nil, nil, err
	}
	r, err := cs.Lookup(cmd.Args().First())
	return cs, r, err
}

func logsCommand() *cli.Command {
	return &cli.Command{
		Name:      "logs",
		Usage:     "Show the output of a container",
		ArgsUsage: "NAME|ID",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing new output until the container exits"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if err := needArgs(cmd, 1, 1); err != nil {
				return err
			}
			cs, r, err := lookupContainer(cmd)
			if err != nil {
				return err
			}
			done := func() bool {
				cur, err := cs.Load(r.ID)
				return err != nil || !cs.IsRunning(cur)
			}
			if err := container.ReadLogs(r.LogPath, cmd.Bool("follow"), done, os.Stdout, os.Stderr); err != nil {
				if os.IsNotExist(err) {
					return fmt.Errorf("container %s has no log (a -t container is not logged)", r.Name)
				}
				return err
			}
			return nil
		},
	}
}

func stopCommand() *cli.Command {
	return &cli.Command{
		Name:      "stop",
		Usage:     "Stop running containers: the image's STOPSIGNAL, then SIGKILL after the timeout",
		ArgsUsage: "NAME|ID [NAME|ID...]",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "time", Aliases: []string{"t"}, Value: 10, Usage: "`seconds` to wait before SIGKILL"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if err := needArgs(cmd, 1, -1); err != nil {
				return err
			}
			if cmd.Int("time") < 0 {
				return fmt.Errorf("-t %d: must not be negative", cmd.Int("time"))
			}
			return eachContainer(cmd, func(cs *container.Manager, a string, r *container.Record) (string, error) {
				return a, cs.Stop(r, time.Duration(cmd.Int("time"))*time.Second)
			})
		},
	}
}

func execCommand() *cli.Command {
	one := 1
	return &cli.Command{
		Name:                   "exec",
		Usage:                  "Run a command in a running container",
		ArgsUsage:              "NAME|ID COMMAND [ARG...]",
		StopOnNthArg:           &one,
		UseShortOptionHandling: true,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a pseudo-terminal"},
			&cli.BoolFlag{Name: "interactive", Aliases: []string{"i"}, Usage: "keep stdin open (always the case)"},
			&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set an environment variable `K=V`"},
			&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "`uid[:gid]` to run as"},
			&cli.StringFlag{Name: "workdir", Aliases: []string{"w"}, Usage: "working `directory`"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if err := needArgs(cmd, 2, -1); err != nil {
				return err
			}
			cs, r, err := lookupContainer(cmd)
			if err != nil {
				return err
			}
			env, err := container.ParseEnv(cmd.StringSlice("env"))
			if err != nil {
				return err
			}
			code, err := cs.Exec(r, cmd.Args().Tail(), cmd.Bool("tty"), env, cmd.String("user"), cmd.String("workdir"))
			if err != nil {
				return err
			}
			if code != 0 {
				os.Exit(code)
			}
			return nil
		},
	}
}
