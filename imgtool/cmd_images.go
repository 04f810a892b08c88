package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/myrun-org/myrun/imgtool/build"
	"github.com/myrun-org/myrun/imgtool/container"
	"github.com/myrun-org/myrun/imgtool/layer"
	"github.com/myrun-org/myrun/imgtool/store"
)

func imagesCommand() *cli.Command {
	return &cli.Command{
		Name:      "images",
		Aliases:   []string{"list", "ls"},
		Usage:     "List images in local storage",
		ArgsUsage: "[NAME]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Usage: "`json`, a Go template ({{.ID}} {{.Repository}} {{.Tag}} {{.Digest}} {{.Created}} {{.CreatedAt}} {{.Size}}), or 'table TEMPLATE'"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "display only image IDs"},
			&cli.BoolFlag{Name: "no-trunc", Usage: "do not truncate output"},
			&cli.BoolFlag{Name: "json", Usage: "output in JSON format"},
			&cli.StringSliceFlag{Name: "filter", Aliases: []string{"f"}, Usage: "show only images matching `KEY=VALUE`: reference (glob), dangling (true|false), label (K or K=V), before, since, id; a key given twice matches either value, different keys all"},
		},
		Action: imagesAction,
	}
}

func imagesAction(ctx context.Context, cmd *cli.Command) error {
	s, err := storeWith(cmd, 0, 1)
	if err != nil {
		return err
	}
	fl, err := parseFilters(cmd.StringSlice("filter"), imageFilterKeys, "image")
	if err != nil {
		return err
	}
	match, err := imageFilter(fl, func(ref string) (time.Time, error) {
		d, err := s.Resolve(ref)
		if err != nil {
			return time.Time{}, err
		}
		l, err := s.Load(d)
		if err != nil {
			return time.Time{}, err
		}
		if l.Config.Created == nil {
			return time.Time{}, fmt.Errorf("image %s has no creation time", ref)
		}
		return *l.Config.Created, nil
	})
	if err != nil {
		return err
	}
	refs, err := s.List()
	if cmd.Args().Len() == 1 {
		refs = filterRefs(refs, cmd.Args().First())
	}
	if err != nil {
		return err
	}
	var keep func(imageInfo) bool
	if len(fl) > 0 {
		keep = match
	}
	rows, err := imageEntries(s, refs, keep)
	if err != nil {
		return err
	}
	f, err := listFormat(cmd, "json", "quiet")
	if err != nil {
		return err
	}
	if f != "" {
		var trows []imageRow
		var jrows = []imageJSON{}
		for _, r := range rows {
			trows = append(trows, newImageRow(r.Name, r.ID, r.Digest, r.Created, r.Size, !cmd.Bool("no-trunc")))
			jrows = append(jrows, imageJSON{ID: r.ID, Names: nonNone(r.Name), Digest: r.Digest, Size: r.Size, Created: r.Created.Unix(), CreatedAt: r.Created})
		}
		return writeFormatted(os.Stdout, f, trows, jrows, imageHeaders)
	}
	if cmd.Bool("json") {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if rows == nil {
			rows = []imageEntry{}
		}
		return enc.Encode(rows)
	}
	if cmd.Bool("quiet") {
		for _, r := range rows {
			fmt.Println(imageIDColumn(r.ID, !cmd.Bool("no-trunc")))
		}
		return nil
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE")
	for _, r := range rows {
		repo, tag := splitName(r.Name)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", repo, tag, imageIDColumn(r.ID, !cmd.Bool("no-trunc")), ago(r.Created), humanSize(r.Size))
	}
	return tw.Flush()
}

// imageEntry is one name of `images` (its --json shape).
type imageEntry struct {
	Name    string    `json:"name"`
	ID      string    `json:"id"`
	Digest  string    `json:"digest"`
	Created time.Time `json:"created"`
	Size    int64     `json:"size"`
}

// imageEntries loads each name's image; one that does not load is listed
// without ID, date or size. With keep (--filter), only the names it keeps.
func imageEntries(s *store.Store, refs []store.Ref, keep func(imageInfo) bool) ([]imageEntry, error) {
	var rows []imageEntry
	for _, r := range refs {
		l, err := s.Load(r.Desc)
		rw := imageEntry{Name: r.Name, Digest: r.Desc.Digest.String()}
		if keep != nil {
			info := imageInfo{Name: r.Name, ID: r.Desc.Digest.Encoded()}
			if err == nil {
				info.ID, info.Labels = l.Manifest.Config.Digest.Encoded(), l.Config.Config.Labels
				if l.Config.Created != nil {
					info.Created = *l.Config.Created
				}
			}
			if !keep(info) {
				continue
			}
		}
		if rw.Name == "" {
			rw.Name = "<none>"
		}
		if err == nil {
			rw.ID = l.Manifest.Config.Digest.Encoded()
			if l.Config.Created != nil {
				rw.Created = *l.Config.Created
			}
			// SIZE is uncompressed, as podman's and docker's.
			for i, x := range l.Manifest.Layers {
				n, err := layer.UncompressedSize(s, x, l.DiffID(i))
				if err != nil {
					return nil, fmt.Errorf("image %s: %w", rw.Name, err)
				}
				rw.Size += n
			}
		}
		rows = append(rows, rw)
	}
	return rows, nil
}

// imageIDColumn is an image's IDs as podman 4.3's images prints it: 12
// digits, or with --no-trunc the whole digest, algorithm included
// (history and ps print theirs bare).
func imageIDColumn(id string, short bool) string {
	if short {
		return trunc(id, true)
	}
	return "sha256:" + id
}

func trunc(id string, t bool) string {
	if t && len(id) > 12 {
		return id[:12]
	}
	return id
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return container.HumanDuration(time.Since(t)) + " ago"
}

func humanSize(n int64) string {
	f := float64(n)
	for _, u := range []string{"B", "kB", "MB", "GB"} {
		if f < 1000 {
			return fmt.Sprintf("%.3g %s", f, u)
		}
		f /= 1000
	}
	return fmt.Sprintf("%.3g TB", f)
}

func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "Display the manifest and configuration of an image",
		ArgsUsage: "IMAGE",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "type", Value: "image", Usage: "what to show: image (manifest, config, digests), manifest or config"},
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Usage: "a Go template over the JSON printed (its keys: {{.Id}}, {{.Config.config.Env}}; a container's {{.State.Pid}}, {{.State.Status}}, {{.NetworkSettings.IPAddress}})"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			_, l, err := imageArg(cmd, 1, 1)
			if err != nil {
				return err
			}
			var out any
			switch cmd.String("type") {
			case "manifest":
				out = l.Manifest
			case "config":
				out = json.RawMessage(l.RawConf)
			case "image":
				out = struct {
					Name           string          `json:"Name"`
					ManifestDigest string          `json:"ManifestDigest"`
					ImageID        string          `json:"ImageID"`
					ID             string          `json:"Id"`
					Manifest       any             `json:"Manifest"`
					Config         json.RawMessage `json:"Config"`
				}{cmd.Args().First(), l.Desc.Digest.String(), l.Manifest.Config.Digest.Encoded(), l.Manifest.Config.Digest.Encoded(), l.Manifest, l.RawConf}
			default:
				return fmt.Errorf("--type %q: want image, manifest or config", cmd.String("type"))
			}
			return writeInspect(cmd, out)
		},
	}
}

func tagCommand() *cli.Command {
	return &cli.Command{
		Name:      "tag",
		Usage:     "Add additional names to a local image",
		ArgsUsage: "IMAGE NAME [NAME...]",
		Action: func(ctx context.Context, cmd *cli.Command) error {
			s, err := storeWith(cmd, 2, -1)
			if err != nil {
				return err
			}
			desc, err := s.Resolve(cmd.Args().First())
			if err != nil {
				return err
			}
			if _, err := s.Load(desc); err != nil {
				return err
			}
			for _, n := range cmd.Args().Tail() {
				if err := s.Tag(n, desc); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

func rmCommand() *cli.Command {
	return &cli.Command{
		Name:      "rm",
		Aliases:   []string{"rmi"},
		Usage:     "Remove one or more image names from local storage",
		ArgsUsage: "IMAGE [IMAGE...]",
		Description: `Removes the names; an IMAGE given by ID removes every name of that image.
Blobs no longer used are freed by "myimg prune".`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "remove all images"},
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "also remove the containers that use the images"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			cs, err := openContainers(cmd)
			if err != nil {
				return err
			}
			s := cs.Images
			if cmd.Bool("all") {
				refs, err := s.List()
				if err != nil {
					return err
				}
				for _, r := range refs {
					if err := guardInUse(cs, r.Desc.Digest.String(), cmd.Bool("force")); err != nil {
						return err
					}
				}
				for _, r := range refs {
					if err := s.RemoveDigest(r.Desc.Digest); err != nil {
						return err
					}
				}
				return nil
			}
			if err := needArgs(cmd, 1, -1); err != nil {
				return err
			}
			for _, a := range cmd.Args().Slice() {
				if err := guardInUse(cs, a, cmd.Bool("force")); err != nil {
					return err
				}
				if err := removeOne(s, a); err != nil {
					return err
				}
				fmt.Println("Untagged: " + a)
			}
			return nil
		},
	}
}

func removeOne(s *store.Store, a string) error {
	if err := s.Untag(a); err == nil {
		return nil
	}
	desc, err := s.Resolve(a)
	if err != nil {
		return err
	}
	return s.RemoveDigest(desc.Digest)
}

func pruneCommand() *cli.Command {
	return &cli.Command{
		Name:  "prune",
		Usage: "Free blobs and cached layers no named image uses",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "cache", Usage: "also drop the build cache and RUN --mount=type=cache directories"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			build.ReexecRootless()
			s, err := openStore(cmd)
			if err != nil {
				return err
			}
			// Killed builds' RUN containers first: Prune only removes files.
			if err := build.CleanStale(s, findRuntime("")); err != nil {
				return err
			}
			r, err := s.Prune(cmd.Bool("cache"))
			if err != nil {
				return err
			}
			fmt.Printf("Removed %d untagged images, %d blobs (%s), %d extracted layers, %d cache records, %d cache mounts\n", r.Untagged, r.Blobs, humanSize(r.Bytes), r.Layers, r.Cache, r.CacheMounts)
			return nil
		},
	}
}

var _ = store.NormalizeName
