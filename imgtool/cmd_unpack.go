package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/myrun-org/myrun/imgtool/layer"
	"github.com/myrun-org/myrun/imgtool/progress"
	"github.com/myrun-org/myrun/imgtool/unpack"
)

func unpackCommand() *cli.Command {
	return &cli.Command{
		Name:      "unpack",
		Usage:     "Unpack an image into an OCI runtime bundle (rootfs + config.json)",
		ArgsUsage: "IMAGE BUNDLE",
		Description: `As root the rootfs is an overlay mount of the store's extracted-layer cache
with the writable layer in BUNDLE/.overlay, so unpacking an image a second time
is near instant. Run it with "myrun run --bundle BUNDLE ID" and remove it with
"myimg unmount BUNDLE". The global --storage-driver and --storage-opt
($STORAGE_DRIVER, $STORAGE_OPTS, storage.conf) choose the mount: the kernel's
overlay, fuse-overlayfs (overlay.mount_program; its process is ended by
unmount) or vfs, a plain directory; unset, the kernel's overlay, else
fuse-overlayfs, else a copy. --copy (and any non-root use) writes a plain
directory; a mounting driver given with it on the command line, or forced for
a non-root unpack, is refused.
A user with subordinate ids (/etc/subuid, /etc/subgid) unpacks inside a user
namespace with them: files keep the image's owners and config.json gets the
same uid/gid maps (unless --uid-map/--gid-map are given).`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "copy", Usage: "write a flattened copy instead of mounting an overlay (--storage-driver vfs for this unpack; over $STORAGE_DRIVER and storage.conf)"},
			&cli.BoolFlag{Name: "rootless", Usage: "generate a config.json with a user namespace (implies --copy with id maps)"},
			&cli.StringSliceFlag{Name: "uid-map", Usage: "container uid mapping CONTAINERID:HOSTID:SIZE (file owners are shifted)"},
			&cli.StringSliceFlag{Name: "gid-map", Usage: "container gid mapping CONTAINERID:HOSTID:SIZE"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress output"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			s, err := storeWith(cmd, 2, 2)
			if err != nil {
				return err
			}
			desc, err := s.Resolve(cmd.Args().Get(0))
			if err != nil {
				return err
			}
			img, err := s.Load(desc)
			if err != nil {
				return err
			}
			uids, err := parseIDMaps(cmd.StringSlice("uid-map"))
			if err != nil {
				return err
			}
			gids, err := parseIDMaps(cmd.StringSlice("gid-map"))
			if err != nil {
				return err
			}
			if len(uids) > 0 && len(gids) == 0 {
				gids = uids
			}
			st, err := storageDriver(cmd)
			if err != nil {
				return err
			}
			if !cmd.Bool("quiet") {
				st.Notes = os.Stderr
			}
			if len(uids) == 0 && len(gids) == 0 {
				m, multi, err := callerRanges()
				if err != nil {
					return err
				}
				if multi {
					if err := st.CheckRootless(); err != nil {
						return err
					}
					return unpackInUserNS(s, desc.Digest.String(), cmd.Args().Get(1), m)
				}
			}
			o := unpack.Options{Copy: cmd.Bool("copy"), Rootless: cmd.Bool("rootless") || len(uids) > 0, UIDMap: uids, GIDMap: gids, Storage: st}
			o.Progress = progress.New(os.Stderr, cmd.Bool("quiet")).Steps("unpack", len(img.Manifest.Layers))
			return unpack.Bundle(s, img, cmd.Args().Get(1), o)
		},
	}
}

func parseIDMaps(v []string) ([]layer.IDMap, error) {
	var out []layer.IDMap
	for _, m := range v {
		p := strings.Split(m, ":")
		if len(p) != 3 {
			return nil, fmt.Errorf("id map %q: want CONTAINERID:HOSTID:SIZE", m)
		}
		var n [3]uint32
		for i, x := range p {
			u, err := strconv.ParseUint(x, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("id map %q: %w", m, err)
			}
			n[i] = uint32(u)
		}
		out = append(out, layer.IDMap{ContainerID: n[0], HostID: n[1], Size: n[2]})
	}
	return out, nil
}

func unmountCommand() *cli.Command {
	return &cli.Command{
		Name:      "unmount",
		Aliases:   []string{"umount"},
		Usage:     "Unmount and remove a bundle made by unpack",
		ArgsUsage: "BUNDLE",
		Action: func(ctx context.Context, cmd *cli.Command) error {
			s, err := storeWith(cmd, 1, 1)
			if err != nil {
				return err
			}
			if m, multi, err := callerRanges(); err == nil && multi {
				return unmountInUserNS(s, cmd.Args().First(), m)
			}
			return unpack.Remove(s, cmd.Args().First())
		},
	}
}
