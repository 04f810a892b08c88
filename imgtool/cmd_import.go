package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/myrun-org/myrun/imgtool/archive"
	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/myrun-org/myrun/imgtool/userns"
)

func importCommand() *cli.Command {
	return &cli.Command{
		Name:      "import",
		Usage:     "Create an image from a root filesystem directory or tarball",
		ArgsUsage: "SOURCE [NAME]",
		Description: `SOURCE is a directory holding a root filesystem or a tarball of one (plain,
gzip or zstd). The result is a one-layer image; NAME defaults to none (print the ID).`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "change", Aliases: []string{"c"}, Usage: "apply a config instruction: CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE, STOPSIGNAL (JSON or plain)"},
			&cli.StringFlag{Name: "compression", Value: "none", Usage: "compression of the layers in the local store: none (as buildah and podman keep them; push and save compress), gzip or zstd"},
			&cli.StringFlag{Name: "message", Aliases: []string{"m"}, Usage: "history comment"},
			&cli.Int64Flag{Name: "timestamp", Value: -1, Usage: "set created time and clamp file mtimes to these seconds since the epoch (default $SOURCE_DATE_EPOCH or now)"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			s, err := storeWith(cmd, 1, 2)
			if err != nil {
				return err
			}
			var conf store.Config
			for _, c := range cmd.StringSlice("change") {
				if err := applyChange(&conf, c); err != nil {
					return err
				}
			}
			ts, err := timestampFlag(cmd)
			if err != nil {
				return err
			}
			opts := archive.ImportOptions{
				Compression: cmd.String("compression"), Created: ts, Config: conf, Comment: cmd.String("message"),
			}
			if os.Geteuid() != 0 {
				// Record owners as the user's namespace sees them: the
				// user's own files belong to container root.
				m, _, err := userns.ForCaller()
				if err != nil { // no newuidmap: the ranges are still read
					m = userns.Maps{UIDs: userns.Mapping(uint32(os.Geteuid()), nil), GIDs: userns.Mapping(uint32(os.Getegid()), nil)}
				}
				opts.IDs = m.ToContainer
			}
			desc, err := archive.Import(s, cmd.Args().Get(0), opts)
			if err != nil {
				return err
			}
			if name := cmd.Args().Get(1); name != "" {
				if err := s.Tag(name, desc); err != nil {
					return err
				}
			}
			fmt.Println(desc.Digest.Encoded())
			return nil
		},
	}
}

// timestampFlag reads --timestamp, else SOURCE_DATE_EPOCH, else nil.
func timestampFlag(cmd *cli.Command) (*time.Time, error) {
	if v := cmd.Int64("timestamp"); v >= 0 {
		t := time.Unix(v, 0).UTC()
		return &t, nil
	}
	if e := os.Getenv("SOURCE_DATE_EPOCH"); e != "" {
		v, err := strconv.ParseInt(e, 10, 64)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("SOURCE_DATE_EPOCH=%q: not a number of seconds", e)
		}
		t := time.Unix(v, 0).UTC()
		return &t, nil
	}
	return nil, nil
}

// applyChange handles the small Dockerfile subset `import --change` takes.
func applyChange(c *store.Config, change string) error {
	instr, arg, _ := strings.Cut(strings.TrimSpace(change), " ")
	arg = strings.TrimSpace(arg)
	words := func() []string {
		if strings.HasPrefix(arg, "[") {
			var v []string
			if json.Unmarshal([]byte(arg), &v) == nil {
				return v
			}
		}
		return []string{"/bin/sh", "-c", arg}
	}
	switch strings.ToUpper(instr) {
	case "CMD":
		c.Cmd = words()
	case "ENTRYPOINT":
		c.Entrypoint = words()
	case "ENV":
		k, v, ok := strings.Cut(arg, "=")
		if !ok {
			k, v, _ = strings.Cut(arg, " ")
		}
		c.Env = append(c.Env, k+"="+strings.TrimSpace(v))
	case "WORKDIR":
		c.WorkingDir = arg
	case "USER":
		c.User = arg
	case "STOPSIGNAL":
		c.StopSignal = arg
	case "LABEL":
		k, v, _ := strings.Cut(arg, "=")
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		c.Labels[k] = strings.Trim(v, `"`)
	case "EXPOSE":
		if c.ExposedPorts == nil {
			c.ExposedPorts = map[string]struct{}{}
		}
		p := arg
		if !strings.Contains(p, "/") {
			p += "/tcp"
		}
		c.ExposedPorts[p] = struct{}{}
	default:
		return fmt.Errorf("--change %q: unsupported instruction %q", change, instr)
	}
	return nil
}
