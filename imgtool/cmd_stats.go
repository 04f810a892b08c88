package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/docker/go-units"
	"github.com/urfave/cli/v3"
	"golang.org/x/term"

	"github.com/myrun-org/myrun/imgtool/container"
)

// statsRow is what a `stats --format` template sees (podman's names:
// CPU is the CPU percentage as a number, UpTime the CPU time).
type statsRow struct {
	ID, Name, CPUPerc, AVGCPU, MemUsage, MemUsageBytes, MemPerc, NetIO, BlockIO, PIDs, UpTime string
	CPU                                                                                       float64
}

// statsJSON is one entry of `stats --format json`, in podman's keys.
type statsJSON struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	CPUTime    string `json:"cpu_time"`
	CPUPercent string `json:"cpu_percent"`
	AvgCPU     string `json:"avg_cpu"`
	MemUsage   string `json:"mem_usage"`
	MemPercent string `json:"mem_percent"`
	NetIO      string `json:"net_io"`
	BlockIO    string `json:"block_io"`
	PIDs       string `json:"pids"`
}

const statsTable = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}\t{{.UpTime}}\t{{.AVGCPU}}"

var statsHeaders = map[string]string{"ID": "ID", "Name": "NAME", "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT",
	"MemUsageBytes": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET IO", "BlockIO": "BLOCK IO", "PIDs": "PIDS",
	"UpTime": "CPU TIME", "AVGCPU": "AVG CPU %", "CPU": "CPU %"}

func statsCommand() *cli.Command {
	return &cli.Command{
		Name:      "stats",
		Usage:     "Show containers' CPU, memory, pids, network and block I/O from their cgroups",
		ArgsUsage: "[NAME|ID...]",
		Description: `Without names: the running containers. CPU % is over the last interval (the
first reading: since the start, as AVG CPU %); 100% is one CPU. MEM USAGE is
the cgroup's charge, LIMIT its limit or the host's memory. NET IO counts
every interface but lo of the container's network namespace (none with
--net host). A counter this host does not have shows "--". A rootless
container is read from its own cgroup2 cgroup (its scope of the systemd
user manager, or a delegated cgroup); one sharing its caller's cgroup
(nothing delegated, or cgroup v1) is refused.`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "also show containers that are not running (with -- values)"},
			&cli.BoolFlag{Name: "no-stream", Usage: "print one reading and exit"},
			&cli.IntFlag{Name: "interval", Aliases: []string{"i"}, Value: 5, Usage: "`seconds` between readings when streaming"},
			&cli.StringFlag{Name: "format", Usage: "`json`, a Go template ({{.ID}} {{.Name}} {{.CPUPerc}} {{.AVGCPU}} {{.CPU}} {{.MemUsage}} {{.MemUsageBytes}} {{.MemPerc}} {{.NetIO}} {{.BlockIO}} {{.PIDs}} {{.UpTime}}) or 'table TEMPLATE'"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Int("interval") < 1 {
				return fmt.Errorf("--interval %d: must be at least 1", cmd.Int("interval"))
			}
			cs, err := openContainers(cmd)
			if err != nil {
				return err
			}
			var recs []*container.Record
			for _, a := range cmd.Args().Slice() {
				r, err := cs.Lookup(a)
				if err != nil {
					return err
				}
				if !cmd.Bool("all") && !cs.IsRunning(r) {
					return fmt.Errorf("container %s is not running (stats -a shows it with no values)", r.Name)
				}
				recs = append(recs, r)
			}
			explicit := len(recs) > 0
			format := cmd.String("format")
			if format == "" {
				format = statsTable
			}
			clear := !cmd.Bool("no-stream") && term.IsTerminal(int(os.Stdout.Fd()))
			prev := map[string]container.Sample{}
			for {
				if !explicit {
					all, err := cs.List()
					if err != nil {
						return err
					}
					recs = recs[:0]
					for _, r := range all {
						if cmd.Bool("all") || cs.IsRunning(r) {
							recs = append(recs, r)
						}
					}
				}
				rows, js, running, err := statsRows(cs, recs, prev)
				if err != nil {
					return err
				}
				if clear {
					fmt.Print("\033[2J\033[H")
				}
				if err := writeFormatted(os.Stdout, format, rows, js, statsHeaders); err != nil {
					return err
				}
				if cmd.Bool("no-stream") || (explicit && running == 0) {
					return nil
				}
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(time.Duration(cmd.Int("interval")) * time.Second):
				}
			}
		},
	}
}

// statsRows reads every container once; prev keeps the last reading per
// container for the interval's CPU %.
func statsRows(cs *container.Manager, recs []*container.Record, prev map[string]container.Sample) ([]statsRow, []statsJSON, int, error) {
	rows, js := []statsRow{}, []statsJSON{}
	running := 0
	for _, r := range recs {
		cur, err := cs.Load(r.ID)
		if err != nil {
			continue // removed meanwhile
		}
		row := statsRow{ID: container.ShortID(cur.ID), Name: cur.Name, CPUPerc: "--", AVGCPU: "--", MemUsage: "-- / --",
			MemUsageBytes: "-- / --", MemPerc: "--", NetIO: "-- / --", BlockIO: "-- / --", PIDs: "--", UpTime: "--"}
		// An error is a container that just stopped (or is restarting),
		// or one without a cgroup of its own (rootless, nothing delegated):
		// refused.
		s, err := cs.Stats(cur)
		var nocg *container.NoCgroupError
		if errors.As(err, &nocg) {
			return nil, nil, 0, err
		}
		if err == nil {
			running++
			fillStats(&row, s, prev[cur.ID])
			prev[cur.ID] = s
		}
		rows = append(rows, row)
		js = append(js, statsJSON{ID: row.ID, Name: row.Name, CPUTime: row.UpTime, CPUPercent: row.CPUPerc, AvgCPU: row.AVGCPU,
			MemUsage: row.MemUsage, MemPercent: row.MemPerc, NetIO: row.NetIO, BlockIO: row.BlockIO, PIDs: row.PIDs})
	}
	return rows, js, running, nil
}

func fillStats(row *statsRow, s, last container.Sample) {
	size := func(n int64) string {
		if n < 0 {
			return "--"
		}
		return units.HumanSizeWithPrecision(float64(n), 4)
	}
	pair := func(a, b int64, f func(int64) string) string { return f(a) + " / " + f(b) }
	if s.CPUNanos >= 0 {
		up := s.At.Sub(s.StartedAt)
		avg := 0.0
		if up > 0 {
			avg = float64(s.CPUNanos) / float64(up.Nanoseconds()) * 100
		}
		cpu := avg
		if !last.At.IsZero() && last.CPUNanos >= 0 && s.At.After(last.At) {
			cpu = float64(s.CPUNanos-last.CPUNanos) / float64(s.At.Sub(last.At).Nanoseconds()) * 100
		}
		row.CPU, row.CPUPerc, row.AVGCPU = cpu, fmt.Sprintf("%.2f%%", cpu), fmt.Sprintf("%.2f%%", avg)
		row.UpTime = time.Duration(s.CPUNanos).String()
	}
	row.MemUsage = pair(s.MemUsage, s.MemLimit, size)
	row.MemUsageBytes = pair(s.MemUsage, s.MemLimit, func(n int64) string {
		if n < 0 {
			return "--"
		}
		return units.BytesSize(float64(n))
	})
	if s.MemUsage >= 0 && s.MemLimit > 0 {
		row.MemPerc = fmt.Sprintf("%.2f%%", float64(s.MemUsage)/float64(s.MemLimit)*100)
	}
	row.NetIO = pair(s.NetRx, s.NetTx, size)
	row.BlockIO = pair(s.BlockRd, s.BlockWr, size)
	if s.Pids >= 0 {
		row.PIDs = fmt.Sprint(s.Pids)
	}
}
