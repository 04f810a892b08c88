package main

import (
	"context"
	"fmt"
	"os"
	"slices"

	"github.com/urfave/cli/v3"

	"github.com/myrun-org/myrun/imgtool/archive"
	"github.com/myrun-org/myrun/imgtool/layer"
	"github.com/myrun-org/myrun/imgtool/progress"
	"github.com/myrun-org/myrun/imgtool/registry"
)

func registryOpts(cmd *cli.Command) (registry.Options, error) {
	conf, err := registry.LoadConf()
	if err != nil {
		return registry.Options{}, err
	}
	rep := progress.New(os.Stderr, cmd.Bool("quiet"))
	return registry.Options{TLSVerify: cmd.Bool("tls-verify"), TLSVerifySet: cmd.IsSet("tls-verify"), Conf: conf, Progress: rep.Wrap, Log: rep.Logf,
		AuthFile: cmd.String("authfile")}, nil
}

var authFileFlag = &cli.StringFlag{Name: "authfile", Usage: "credentials `file` (default: $REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json or /run/containers/UID/auth.json, as podman)"}

var registryFlags = []cli.Flag{
	&cli.BoolFlag{Name: "tls-verify", Value: true, Usage: "require HTTPS and verify certificates (false allows plain HTTP, e.g. a loopback registry; default: true unless registries.conf marks the registry insecure)"},
	&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "suppress progress output"},
	authFileFlag,
}

func pullCommand() *cli.Command {
	return &cli.Command{
		Name:      "pull",
		Usage:     "Pull an image from a registry",
		ArgsUsage: "IMAGE",
		Description: `IMAGE is registry/repository[:tag|@digest]. For an index the host's
linux/GOARCH manifest is pulled. Digests, sizes and diff_ids are verified before storing.
"oci:PATH[:TAG]" copies from an OCI layout directory instead.`,
		Flags: registryFlags,
		Action: func(ctx context.Context, cmd *cli.Command) error {
			s, err := storeWith(cmd, 1, 1)
			if err != nil {
				return err
			}
			o, err := registryOpts(cmd)
			if err != nil {
				return err
			}
			desc, err := registry.PullAny(s, cmd.Args().First(), o)
			if err != nil {
				return err
			}
			fmt.Println(s.ImageID(desc))
			return nil
		},
	}
}

func pushCommand() *cli.Command {
	return &cli.Command{
		Name:      "push",
		Usage:     "Push an image to a registry",
		ArgsUsage: "IMAGE [DESTINATION]",
		Description: `Layers kept uncompressed in the store (the default of build and import)
are compressed on the way (gzip unless --compression-format says zstd), as
buildah and podman push; the manifest (and an index) is rewritten for them,
so the pushed manifest digest differs from the local one while the image ID
(the config) stays. The store remembers each layer's compressed digest: a
second push, to any repository, does not compress it again when the registry
has it or can mount it from a repository it was pushed to. Layers stored
compressed go as they are.`,
		Flags: append(slices.Clone(registryFlags),
			&cli.StringFlag{Name: "compression-format", Value: layer.Gzip, Usage: "compress uncompressed layers with gzip or zstd (named explicitly, it also recompresses layers stored in the other format)"},
			&cli.IntFlag{Name: "compression-level", Usage: "compression level (gzip 1-9, zstd 1-22; default: gzip 1, zstd's default)"},
			&cli.BoolFlag{Name: "disable-compression", Aliases: []string{"D"}, Usage: "push every layer as stored (uncompressed ones uncompressed)"},
		),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			s, err := storeWith(cmd, 1, 2)
			if err != nil {
				return err
			}
			o, err := registryOpts(cmd)
			if err != nil {
				return err
			}
			if o.Export, err = pushExport(cmd); err != nil {
				return err
			}
			_, err = registry.Push(s, cmd.Args().Get(0), cmd.Args().Get(1), o)
			return err
		},
	}
}

// pushExport reads push's compression flags.
func pushExport(cmd *cli.Command) (archive.Export, error) {
	if cmd.Bool("disable-compression") {
		for _, f := range []string{"compression-format", "compression-level"} {
			if cmd.IsSet(f) {
				return archive.Export{}, fmt.Errorf("--%s: layers are not compressed with --disable-compression", f)
			}
		}
		return archive.Export{}, nil
	}
	e := archive.Export{Format: cmd.String("compression-format"), Level: int(cmd.Int("compression-level")), Recompress: cmd.IsSet("compression-format")}
	return e, e.Check()
}
