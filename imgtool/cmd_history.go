package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/myrun-org/myrun/imgtool/layer"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// historyRow is one step of `history` (podman's template names).
type historyRow struct {
	ID, Created, CreatedBy, Size, Comment string
	CreatedAt                             time.Time
}

type historyJSON struct {
	ID        string    `json:"id"`
	Created   time.Time `json:"created"`
	CreatedBy string    `json:"createdBy"`
	Size      int64     `json:"size"`
	Comment   string    `json:"comment"`
	Empty     bool      `json:"emptyLayer,omitempty"`
}

func historyCommand() *cli.Command {
	return &cli.Command{
		Name:      "history",
		Usage:     "Show the steps that made an image, newest first",
		ArgsUsage: "IMAGE",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "no-trunc", Usage: "do not truncate IDs and commands"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only the IDs"},
			&cli.BoolFlag{Name: "human", Aliases: []string{"H"}, Value: true, Usage: "sizes and dates in human form"},
			&cli.StringFlag{Name: "format", Usage: "`json`, a Go template ({{.ID}} {{.Created}} {{.CreatedBy}} {{.Size}} {{.Comment}}) or 'table TEMPLATE'"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			s, l, err := imageArg(cmd, 1, 1)
			if err != nil {
				return err
			}
			short := !cmd.Bool("no-trunc")
			hist := l.Config.History
			if len(hist) == 0 {
				// No history: one row per layer, as podman shows.
				for range l.Manifest.Layers {
					hist = append(hist, ocispec.History{})
				}
			}
			var rows []historyRow
			var jrows []historyJSON
			li := 0
			for _, h := range hist {
				var size int64
				if !h.EmptyLayer {
					if li >= len(l.Manifest.Layers) {
						return fmt.Errorf("image %s: history lists more layers than the manifest's %d", cmd.Args().First(), len(l.Manifest.Layers))
					}
					if size, err = layer.UncompressedSize(s, l.Manifest.Layers[li], l.DiffID(li)); err != nil {
						return err
					}
					li++
				}
				var at time.Time
				if h.Created != nil {
					at = *h.Created
				}
				jrows = append(jrows, historyJSON{ID: "<missing>", Created: at, CreatedBy: h.CreatedBy, Size: size, Comment: h.Comment, Empty: h.EmptyLayer})
			}
			// Newest first; the image's own ID on the top row.
			for i, j := 0, len(jrows)-1; i < j; i, j = i+1, j-1 {
				jrows[i], jrows[j] = jrows[j], jrows[i]
			}
			if len(jrows) > 0 {
				jrows[0].ID = l.Manifest.Config.Digest.Encoded()
			}
			for _, j := range jrows {
				by := j.CreatedBy
				if short && len(by) > 45 {
					by = by[:44] + "…"
				}
				created, size := ago(j.Created), humanSize(j.Size)
				if !cmd.Bool("human") {
					created, size = j.Created.Format(time.RFC3339), fmt.Sprint(j.Size)
				}
				rows = append(rows, historyRow{ID: trunc(j.ID, short), Created: created, CreatedAt: j.Created, CreatedBy: by, Size: size, Comment: j.Comment})
			}
			if cmd.Bool("quiet") {
				for _, r := range rows {
					fmt.Println(r.ID)
				}
				return nil
			}
			f := cmd.String("format")
			if f == "" {
				f = "table {{.ID}}\t{{.Created}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
			}
			return writeFormatted(os.Stdout, f, rows, jrows, map[string]string{"CreatedBy": "CREATED BY"})
		},
	}
}
