package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v3"
)

// event is runc's events JSON shape, which containerd and podman parse.
type event struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data any    `json:"data,omitempty"`
}

// oomPoll is how often the stream checks for OOM kills between stats.
const oomPoll = 100 * time.Millisecond

func eventsCommand() *cli.Command {
	return &cli.Command{
		Name:      "events",
		Usage:     "display container events such as OOM notifications, cpu, memory, and IO usage statistics",
		ArgsUsage: "<container-id>",
		Description: `The events command displays information about the container. By default the
information is displayed once every 5 seconds.`,
		Flags: []cli.Flag{
			&cli.DurationFlag{Name: "interval", Value: 5 * time.Second, Usage: "set the stats collection interval"},
			&cli.BoolFlag{Name: "stats", Usage: "display the container's stats then exit"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if err := exactArgs(cmd, 1, "<container-id>"); err != nil {
				return err
			}
			if cmd.Duration("interval") <= 0 {
				return fmt.Errorf("--interval: duration must be greater than 0")
			}
			r, err := newRuntime(cmd)
			if err != nil {
				return err
			}
			id := cmd.Args().First()
			enc := json.NewEncoder(os.Stdout)
			if cmd.Bool("stats") {
				st, err := r.Stats(id)
				if err != nil {
					return err
				}
				return enc.Encode(event{Type: "stats", ID: id, Data: st})
			}
			ooms, _ := r.OOMKills(id)
			nextStats := time.Now()
			for {
				if time.Now().After(nextStats) {
					st, err := r.Stats(id)
					if err != nil {
						return err // the container is gone: the stream ends
					}
					if err := enc.Encode(event{Type: "stats", ID: id, Data: st}); err != nil {
						return err
					}
					nextStats = time.Now().Add(cmd.Duration("interval"))
				}
				if n, err := r.OOMKills(id); err == nil && n > ooms {
					ooms = n
					if err := enc.Encode(event{Type: "oom", ID: id}); err != nil {
						return err
					}
				}
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(oomPoll):
				}
			}
		},
	}
}
