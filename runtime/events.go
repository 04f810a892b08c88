package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/myrun-org/myrun/libcontainer"
)

// event is runc's events JSON shape, which containerd and podman parse.
type event struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data any    `json:"data,omitempty"`
}

// oomPoll is how often the stream checks for OOM kills when it cannot be
// notified of them.
const oomPoll = 100 * time.Millisecond

func eventsCommand() *cli.Command {
	return &cli.Command{
		Name:      "events",
		Usage:     "display container events such as OOM notifications, cpu, memory, and IO usage statistics",
		ArgsUsage: "<container-id>",
		Description: `events prints the container's events as JSON lines: OOM notifications as
they happen and resource statistics every --interval; --stats prints the
statistics once.`,
		Flags: []cli.Flag{
			&cli.DurationFlag{Name: "interval", Value: 5 * time.Second, Usage: "set the stats collection interval"},
			&cli.BoolFlag{Name: "stats", Usage: "display the container's stats then exit"},
		},
		Action: eventsAction,
	}
}

func eventsAction(ctx context.Context, cmd *cli.Command) error {
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
	return streamEvents(ctx, r, id, enc, cmd.Duration("interval"))
}

// streamEvents prints OOM kills as they happen and stats every interval
// until ctx ends or the container goes.
func streamEvents(ctx context.Context, r *libcontainer.Runtime, id string, enc *json.Encoder, interval time.Duration) error {
	// OOM kills wake us (eventfd/inotify); polling is the fallback
	// when the cgroup has no memory controller to watch.
	ooms, _ := r.OOMKills(id)
	wake, stop, err := r.NotifyOOM(id)
	var poll <-chan time.Time
	if err != nil {
		t := time.NewTicker(oomPoll)
		defer t.Stop()
		poll = t.C
	} else {
		defer stop()
	}
	stats := time.NewTimer(0)
	defer stats.Stop()
	// A v1 notification comes as the cgroup enters OOM, before
	// the kill is counted: look again a few times after a wake-up.
	recheck := time.NewTimer(time.Hour)
	recheck.Stop()
	defer recheck.Stop()
	rechecks := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-stats.C:
			st, err := r.Stats(id)
			if err != nil {
				return err // the container is gone: the stream ends
			}
			if err := enc.Encode(event{Type: "stats", ID: id, Data: st}); err != nil {
				return err
			}
			stats.Reset(interval)
			continue
		case _, ok := <-wake:
			if !ok {
				wake = nil // cgroup removed: the next stats ends the stream
				stats.Reset(0)
				continue
			}
			rechecks = 5
			recheck.Reset(20 * time.Millisecond)
		case <-recheck.C:
			if rechecks--; rechecks > 0 {
				recheck.Reset(100 * time.Millisecond)
			}
		case <-poll:
		}
		if n, err := r.OOMKills(id); err == nil && n > ooms {
			ooms = n
			if err := enc.Encode(event{Type: "oom", ID: id}); err != nil {
				return err
			}
		}
	}
}
