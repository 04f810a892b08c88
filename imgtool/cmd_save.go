package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v3"

	"github.com/myrun-org/myrun/imgtool/archive"
	"github.com/myrun-org/myrun/imgtool/store"
)

func saveCommand() *cli.Command {
	return &cli.Command{
		Name:      "save",
		Usage:     "Save images to an archive or an OCI layout directory",
		ArgsUsage: "IMAGE [IMAGE...]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `file` (or directory for oci-dir) instead of stdout"},
			&cli.StringFlag{Name: "format", Value: "oci-archive", Usage: "oci-archive (tar of an OCI layout) or oci-dir (OCI layout directory)"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if err := needArgs(cmd, 1, -1); err != nil {
				return err
			}
			s, err := openStore(cmd)
			if err != nil {
				return err
			}
			out := cmd.String("output")
			switch cmd.String("format") {
			case "oci-dir":
				if out == "" {
					return fmt.Errorf("--format oci-dir needs --output DIR")
				}
				return archive.SaveDir(s, out, cmd.Args().Slice())
			case "oci-archive":
			default:
				return fmt.Errorf("--format %q: want oci-archive or oci-dir", cmd.String("format"))
			}
			if out == "" {
				return archive.SaveArchive(s, os.Stdout, cmd.Args().Slice())
			}
			// Temp file + rename: a failed save leaves no half archive.
			f, err := os.CreateTemp(filepath.Dir(out), ".myimg-save-*")
			if err != nil {
				return err
			}
			defer os.Remove(f.Name())
			if err := archive.SaveArchive(s, f, cmd.Args().Slice()); err != nil {
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
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if err := needArgs(cmd, 0, 0); err != nil {
				return err
			}
			s, err := openStore(cmd)
			if err != nil {
				return err
			}
			var r io.Reader = os.Stdin
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
			for _, li := range imgs {
				if li.Name != "" {
					fmt.Println("Loaded image: " + store.NormalizeName(li.Name))
				} else {
					fmt.Println("Loaded image: " + li.Desc.Digest.String())
				}
			}
			return nil
		},
	}
}
