package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v3"

	"github.com/myrun-org/myrun/imgtool/container"
)

// containerRmCommand is `rm`: containers first (podman's meaning), and
// image names for anything that is not a container, as before. `rmi`
// stays images only.
func containerRmCommand(images *cli.Command) *cli.Command {
	return &cli.Command{
		Name:                   "rm",
		UseShortOptionHandling: true,
		Usage:                  "Remove containers (every trace: state, network, mounts, logs) or image names",
		ArgsUsage:              "NAME|ID|IMAGE [...]",
		Description: `A container is removed with its bundle, overlay mount, veth, iptables rules,
IP lease, slirp4netns process, cgroup, runtime state and log. rm -f also kills
a running container and cleans up after a crashed monitor. Arguments that are
not containers are image names, as with "myimg rmi".`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "kill running containers first; no error for missing ones"},
			&cli.BoolFlag{Name: "keep-logs", Usage: "keep the containers' log files"},
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "remove all images (as rmi -a)"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Bool("all") {
				return images.Action(ctx, cmd)
			}
			cs, err := containersWith(cmd, 1, -1)
			if err != nil {
				return err
			}
			var errs []error
			for _, a := range cmd.Args().Slice() {
				r, lerr := cs.Lookup(a)
				if lerr == nil {
					if err := cs.Remove(r.ID, container.RemoveOptions{Force: cmd.Bool("force"), KeepLogs: cmd.Bool("keep-logs")}); err != nil {
						errs = append(errs, err)
						continue
					}
					fmt.Println(a)
					continue
				}
				if !errors.Is(lerr, container.ErrNotFound) {
					errs = append(errs, lerr)
					continue
				}
				// rm never takes containers away for an image (rmi -f does).
				if _, rerr := cs.Images.Resolve(a); rerr == nil {
					if err := guardInUse(cs, a, false); err != nil {
						errs = append(errs, err)
						continue
					}
				}
				if err := removeOne(cs.Images, a); err != nil {
					if cmd.Bool("force") {
						continue
					}
					errs = append(errs, fmt.Errorf("%s: no such container or image", a))
					continue
				}
				fmt.Println("Untagged: " + a)
			}
			return errors.Join(errs...)
		},
	}
}

// imageRmiCommand is the image-only rm under the name rmi.
func imageRmiCommand(images *cli.Command) *cli.Command {
	images.Name, images.Aliases = "rmi", nil
	return images
}

// withContainerInspect lets `inspect` show a container (its record and
// the runtime's state) when the argument names one.
func withContainerInspect(img *cli.Command) *cli.Command {
	imgAction := img.Action
	img.Usage = "Display a container's record or an image's manifest and configuration"
	img.ArgsUsage = "NAME|ID|IMAGE"
	img.Action = func(ctx context.Context, cmd *cli.Command) error {
		t := cmd.String("type")
		if cmd.Args().Len() == 1 && (t == "image" || t == "container") {
			cs, err := openContainers(cmd)
			if err != nil {
				return err
			}
			r, err := cs.Lookup(cmd.Args().First())
			if err == nil {
				out := struct {
					*container.Record
					State string `json:"state"`
				}{r, cs.Status(r)}
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "    ")
				return enc.Encode(out)
			}
			if t == "container" {
				return err
			}
		}
		return imgAction(ctx, cmd)
	}
	return img
}
