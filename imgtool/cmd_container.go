package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/myrun-org/myrun/imgtool/container"
	"github.com/myrun-org/myrun/imgtool/overlay"
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
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "remove all containers (running ones need -f), as podman rm -a; images: rmi -a"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Bool("all") {
				return removeAllContainers(cmd)
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
				return writeInspect(cmd, containerInspect(cs, r))
			}
			if t == "container" {
				return err
			}
		}
		return imgAction(ctx, cmd)
	}
	return img
}

// podmanState is the part of podman's container inspect State that
// scripts read with -f '{{.State.Pid}}' and the like.
type podmanState struct {
	Status     string    `json:"Status"`
	Running    bool      `json:"Running"`
	Pid        int       `json:"Pid"`
	ExitCode   int       `json:"ExitCode"`
	StartedAt  time.Time `json:"StartedAt"`
	FinishedAt time.Time `json:"FinishedAt"`
}

// containerInspect is the record, its ps status (state) and podman's
// Id, State and NetworkSettings.IPAddress (empty unless running, as
// podman's).
func containerInspect(cs *container.Manager, r *container.Record) any {
	st := podmanState{Status: "created", ExitCode: r.ExitCode, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt}
	ip := ""
	switch {
	case cs.IsRunning(r):
		st.Status, st.Running, st.Pid, ip = "running", true, r.Pid, r.Network.IP
	case r.Status == container.StatusExited:
		st.Status = "exited"
	}
	return struct {
		*container.Record
		State       string      `json:"state"`
		PodmanID    string      `json:"Id"`
		PodmanState podmanState `json:"State"`
		NetSettings struct {
			IPAddress string `json:"IPAddress"`
		} `json:"NetworkSettings"`
		GraphDriver graphDriver `json:"GraphDriver"`
	}{Record: r, State: cs.Status(r), PodmanID: r.ID, PodmanState: st,
		NetSettings: struct {
			IPAddress string `json:"IPAddress"`
		}{ip}, GraphDriver: graphDriverOf(r.Bundle)}
}

// graphDriver is podman's GraphDriver of a container: the storage
// driver its rootfs was laid out with, "overlay" (the kernel's, or with
// Data.MountProgram fuse-overlayfs) or "vfs" (a copy, no Data).
type graphDriver struct {
	Name string            `json:"Name"`
	Data map[string]string `json:"Data"`
}

func graphDriverOf(bundle string) graphDriver {
	ov := filepath.Join(bundle, ".overlay")
	if _, err := os.Stat(ov); err != nil {
		return graphDriver{Name: "vfs"}
	}
	g := graphDriver{Name: "overlay", Data: map[string]string{
		"UpperDir": filepath.Join(ov, "upper"), "WorkDir": filepath.Join(ov, "work"), "MergedDir": filepath.Join(bundle, "rootfs")}}
	if b, err := os.ReadFile(filepath.Join(ov, "fuse-overlayfs.pid")); err == nil {
		if _, _, prog, err := overlay.ReadFusePid(b); err == nil {
			g.Data["MountProgram"] = prog
		}
	}
	return g
}

// writeInspect prints v as indented JSON or, with --format, through a
// Go template over that JSON document (its keys as printed; "json" is
// the document itself).
func writeInspect(cmd *cli.Command, v any) error {
	f := cmd.String("format")
	if f == "" || f == "json" {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "    ")
		return enc.Encode(v)
	}
	doc, err := inspectDoc(v)
	if err != nil {
		return err
	}
	return writeFormatted(os.Stdout, f, []any{doc}, []any(nil), nil)
}

// inspectDoc is v as its JSON document, numbers as they are printed
// (decoded as float64, a pid or size of 7 digits or more came out as
// 4.194303e+06).
func inspectDoc(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	podmanTimes(doc)
	return doc, nil
}

// podmanTimes makes State.StartedAt and .FinishedAt times again, so that
// {{.State.StartedAt}} prints as podman's does ("2026-12-03 10:00:00.5
// +0000 UTC", zero "0001-01-01 00:00:00 +0000 UTC"; the JSON string was
// printed as it is) and {{json .State}} keeps the JSON form.
func podmanTimes(doc any) {
	m, _ := doc.(map[string]any)
	st, _ := m["State"].(map[string]any)
	for _, k := range []string{"StartedAt", "FinishedAt"} {
		if s, ok := st[k].(string); ok {
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
				st[k] = t
			}
		}
	}
}

// removeAllContainers is rm -a: every container, as podman's (it used to
// be rmi -a, which took away every image instead).
func removeAllContainers(cmd *cli.Command) error {
	if cmd.Args().Len() > 0 {
		return fmt.Errorf("rm --all: no container names or IDs may follow")
	}
	cs, err := openContainers(cmd)
	if err != nil {
		return err
	}
	rs, err := cs.List()
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range rs {
		if err := cs.Remove(r.ID, container.RemoveOptions{Force: cmd.Bool("force"), KeepLogs: cmd.Bool("keep-logs")}); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Println(r.ID)
	}
	return errors.Join(errs...)
}
