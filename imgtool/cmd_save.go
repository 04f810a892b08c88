package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v3"
	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/imgtool/archive"
	"github.com/myrun-org/myrun/imgtool/layer"
	"github.com/myrun-org/myrun/imgtool/store"
)

func saveCommand() *cli.Command {
	return &cli.Command{
		Name:      "save",
		Usage:     "Save images to an archive or an OCI layout directory",
		ArgsUsage: "IMAGE [IMAGE...]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `file` (or directory for oci-dir) instead of stdout"},
			&cli.StringFlag{Name: "format", Value: "oci-archive", Usage: "oci-archive (tar of an OCI layout), oci-dir (OCI layout directory) or docker-archive"},
			&cli.BoolFlag{Name: "multi-image-archive", Aliases: []string{"m"}, Usage: "docker-archive: allow several images (one manifest.json entry each)"},
			&cli.BoolFlag{Name: "uncompressed", Usage: "oci-archive, oci-dir: keep uncompressed layers uncompressed (default: gzip them, as podman; docker-archive layers are always uncompressed tars)"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			s, err := storeWith(cmd, 1, -1)
			if err != nil {
				return err
			}
			out := cmd.String("output")
			if cmd.Bool("multi-image-archive") && cmd.String("format") != "docker-archive" {
				return fmt.Errorf("-m (--multi-image-archive) is for --format docker-archive; %s holds several images anyway", cmd.String("format"))
			}
			// As podman 4.3 with its uncompressed store: the OCI formats
			// gzip layers (those stored compressed go as they are).
			e := archive.Export{Format: layer.Gzip}
			if cmd.Bool("uncompressed") {
				e = archive.Export{}
			}
			write := func(w io.Writer) error { return archive.SaveArchive(s, w, cmd.Args().Slice(), e) }
			switch cmd.String("format") {
			case "oci-dir":
				if out == "" {
					return fmt.Errorf("--format oci-dir needs --output DIR")
				}
				return archive.SaveDir(s, out, cmd.Args().Slice(), e)
			case "oci-archive":
			case "docker-archive":
				write = func(w io.Writer) error {
					return archive.SaveDocker(s, w, cmd.Args().Slice(), cmd.Bool("multi-image-archive"))
				}
			default:
				return fmt.Errorf("--format %q: want oci-archive, oci-dir or docker-archive", cmd.String("format"))
			}
			if out == "" {
				if isTerminal(os.Stdout) {
					return fmt.Errorf("refusing to write an archive to a terminal: use -o FILE or redirect stdout")
				}
				return write(os.Stdout)
			}
			// Temp file + rename: a failed save leaves no half archive.
			f, err := os.CreateTemp(filepath.Dir(out), ".myimg-save-*")
			if err != nil {
				return err
			}
			defer os.Remove(f.Name())
			if err := write(f); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			os.Chmod(f.Name(), 0o644)
			return os.Rename(f.Name(), out)
		},
	}
}

func loadCommand() *cli.Command {
	return &cli.Command{
		Name:  "load",
		Usage: "Load images from an oci-archive or docker-archive",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "input", Aliases: []string{"i"}, Usage: "read from archive `file` instead of stdin"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress output (as podman: the Loaded image lines stay)"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			s, err := storeWith(cmd, 0, 0)
			if err != nil {
				return err
			}
			var r io.Reader = os.Stdin
			if cmd.String("input") == "" && isTerminal(os.Stdin) {
				return fmt.Errorf("no archive: stdin is a terminal; use -i FILE or redirect stdin")
			}
			if in := cmd.String("input"); in != "" {
				f, err := os.Open(in)
				if err != nil {
					return err
				}
				defer f.Close()
				r = f
			}
			imgs, err := archive.Load(s, r)
			if err != nil {
				return err
			}
			// -q as podman's: it hides progress, which load does not
			// print; the result lines stay.
			prefix := "Loaded image: "
			for _, li := range imgs {
				if li.Name != "" {
					fmt.Println(prefix + store.NormalizeName(li.Name))
				} else {
					fmt.Println(prefix + li.Desc.Digest.String())
				}
			}
			return nil
		},
	}
}

// isTerminal reports whether f is a terminal (an archive is binary).
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
