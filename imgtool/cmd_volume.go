package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/myrun-org/myrun/imgtool/container"
)

// volumeRow is what a `volume ls --format` template sees.
type volumeRow struct {
	Name, Driver, Mountpoint, CreatedAt string
}

func volumeCommand() *cli.Command {
	return &cli.Command{
		Name:  "volume",
		Usage: "Manage named volumes (-v NAME:/path; filled from the image on first use)",
		Commands: []*cli.Command{
			volumeCreateCommand(), volumeLsCommand(), volumeInspectCommand(), volumeRmCommand(), volumePruneCommand(),
		},
	}
}

func volumeCreateCommand() *cli.Command {
	return &cli.Command{
		Name:      "create",
		Usage:     "Create a volume (a random name when none is given)",
		ArgsUsage: "[NAME]",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "label", Aliases: []string{"l"}, Usage: "set a label `K=V`"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if err := needArgs(cmd, 0, 1); err != nil {
				return err
			}
			labels := map[string]string{}
			for _, l := range cmd.StringSlice("label") {
				k, v, _ := strings.Cut(l, "=")
				if k == "" {
					return fmt.Errorf("--label %q: want K=V", l)
				}
				labels[k] = v
			}
			cs, err := openContainers(cmd)
			if err != nil {
				return err
			}
			v, err := cs.CreateVolume(cmd.Args().First(), labels)
			if err != nil {
				return err
			}
			fmt.Println(v.Name)
			return nil
		},
	}
}

func volumeLsCommand() *cli.Command {
	return &cli.Command{
		Name:    "ls",
		Aliases: []string{"list"},
		Usage:   "List volumes",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only the names"},
			&cli.StringFlag{Name: "format", Usage: "`json`, a Go template ({{.Name}} {{.Driver}} {{.Mountpoint}}) or 'table TEMPLATE'"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			cs, err := containersWith(cmd, 0, 0)
			if err != nil {
				return err
			}
			vs, err := cs.Volumes()
			if err != nil {
				return err
			}
			f, err := listFormat(cmd, "quiet")
			if err != nil {
				return err
			}
			if cmd.Bool("quiet") {
				f = "{{.Name}}"
			}
			if f == "" {
				f = "table {{.Driver}}\t{{.Name}}"
			}
			var rows []volumeRow
			for _, v := range vs {
				rows = append(rows, volumeRow{v.Name, v.Driver, v.Mountpoint, v.CreatedAt.Format("2006-01-02T15:04:05Z07:00")})
			}
			return writeFormatted(os.Stdout, f, rows, vs, map[string]string{"Name": "VOLUME NAME"})
		},
	}
}

func volumeInspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "Show volumes as JSON",
		ArgsUsage: "NAME [NAME...]",
		Action: func(ctx context.Context, cmd *cli.Command) error {
			cs, err := containersWith(cmd, 1, -1)
			if err != nil {
				return err
			}
			var out []*container.VolumeInfo
			for _, n := range cmd.Args().Slice() {
				v, err := cs.Volume(n)
				if err != nil {
					return err
				}
				out = append(out, v)
			}
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "    ")
			return enc.Encode(out)
		},
	}
}

func volumeRmCommand() *cli.Command {
	return &cli.Command{
		Name:      "rm",
		Aliases:   []string{"remove"},
		Usage:     "Remove volumes (in use: refused, unless --force removes those containers)",
		ArgsUsage: "NAME [NAME...]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "also remove the containers that use them"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			cs, err := containersWith(cmd, 1, -1)
			if err != nil {
				return err
			}
			for _, n := range cmd.Args().Slice() {
				if err := cs.RemoveVolume(n, cmd.Bool("force")); err != nil {
					return err
				}
				fmt.Println(n)
			}
			return nil
		},
	}
}

func volumePruneCommand() *cli.Command {
	return &cli.Command{
		Name:  "prune",
		Usage: "Remove every volume no container uses",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "accepted for podman compatibility (myimg never asks)"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			cs, err := containersWith(cmd, 0, 0)
			if err != nil {
				return err
			}
			gone, err := cs.PruneVolumes()
			for _, n := range gone {
				fmt.Println(n)
			}
			return err
		},
	}
}
