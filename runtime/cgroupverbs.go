package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v3"

	"github.com/myrun-org/myrun/libcontainer"
	"github.com/myrun-org/myrun/specs/units"
)

func pauseCommand() *cli.Command {
	return idCommand("pause", "pause suspends all processes inside the container",
		`pause freezes every process of the container (cgroup freezer) until
"myrun resume".`,
		(*libcontainer.Runtime).Pause)
}

func resumeCommand() *cli.Command {
	return idCommand("resume", "resumes all processes that have been previously paused",
		`resume thaws the processes of a container frozen by "myrun pause".`,
		(*libcontainer.Runtime).Resume)
}

func psCommand() *cli.Command {
	one := 1
	return &cli.Command{
		Name: "ps",
		// Everything after the id is for ps(1): `myrun ps ID -e -x`.
		StopOnNthArg: &one,
		Usage:        "ps displays the processes running inside a container",
		ArgsUsage:    "<container-id> [ps options]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: `select one of: table or json (default: "table")`},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() < 1 {
				return fmt.Errorf("ps: requires at least 1 argument: <container-id>")
			}
			r, err := newRuntime(cmd)
			if err != nil {
				return err
			}
			pids, err := r.Pids(cmd.Args().First())
			if err != nil {
				return err
			}
			switch cmd.String("format") {
			case "json":
				if pids == nil {
					pids = []int{}
				}
				return json.NewEncoder(os.Stdout).Encode(pids)
			case "table":
			default:
				return fmt.Errorf("--format: invalid format option %q", cmd.String("format"))
			}
			psArgs := cmd.Args().Slice()[1:]
			if len(psArgs) == 0 {
				psArgs = []string{"-ef"}
			}
			out, err := exec.Command("ps", psArgs...).Output()
			if err != nil {
				return psError(err)
			}
			return filterPs(os.Stdout, string(out), pids)
		},
	}
}

// psError names what ps(1) said on stderr (its first line), not only
// its exit status.
func psError(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if msg, _, _ := strings.Cut(strings.TrimSpace(string(ee.Stderr)), "\n"); msg != "" {
			return fmt.Errorf("ps: %w: %s", err, msg)
		}
	}
	return fmt.Errorf("ps: %w", err)
}

// filterPs keeps the header and the lines whose PID column is ours.
func filterPs(w io.Writer, out string, pids []int) error {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) == 0 {
		return nil
	}
	col := -1
	for i, f := range strings.Fields(lines[0]) {
		if f == "PID" {
			col = i
		}
	}
	if col < 0 {
		return fmt.Errorf("ps: no PID column in output")
	}
	want := map[int]bool{}
	for _, p := range pids {
		want[p] = true
	}
	fmt.Fprintln(w, lines[0])
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) > col {
			if p, err := strconv.Atoi(f[col]); err == nil && want[p] {
				fmt.Fprintln(w, l)
			}
		}
	}
	return nil
}

func updateCommand() *cli.Command {
	u64 := func(name, usage string) cli.Flag { return &cli.StringFlag{Name: name, Usage: usage} }
	return &cli.Command{
		Name:      "update",
		Usage:     "update container resource constraints",
		ArgsUsage: "<container-id>",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "resources", Aliases: []string{"r"}, Usage: "path to the file containing the resources to update or '-' to read from the standard input"},
			u64("blkio-weight", "Specifies per cgroup weight, range is from 10 to 1000"),
			u64("cpu-period", "CPU CFS period to be used for hardcapping (in usecs). 0 to use system default"),
			u64("cpu-quota", "CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period"),
			u64("cpu-share", "CPU shares (relative weight vs. other containers)"),
			u64("cpu-rt-period", "CPU realtime period to be used for hardcapping (in usecs). 0 to use system default"),
			u64("cpu-rt-runtime", "CPU realtime hardcap limit (in usecs). Allowed cpu time in a given period"),
			&cli.StringFlag{Name: "cpuset-cpus", Usage: "CPU(s) to use"},
			&cli.StringFlag{Name: "cpuset-mems", Usage: "Memory node(s) to use"},
			u64("memory", "Memory limit (in bytes, or with a unit: 64m, 1g)"),
			u64("memory-reservation", "Memory reservation or soft_limit (in bytes, or with a unit)"),
			u64("memory-swap", "Total memory usage (memory + swap); set '-1' to enable unlimited swap"),
			u64("pids-limit", "Maximum number of pids allowed in the container"),
			&cli.StringFlag{Name: "l3-cache-schema", Usage: "new L3 cache line for the container's resctrl schemata (e.g. L3:0=ff)"},
			&cli.StringFlag{Name: "mem-bw-schema", Usage: "new memory bandwidth line for the container's resctrl schemata (e.g. MB:0=50)"},
			u64("cpu-burst", "CPU CFS burst limit (in usecs), on top of the quota"),
			u64("cpu-idle", "1 makes the cgroup's CPU scheduling idle (SCHED_IDLE-like), 0 normal"),
			// Obsolete: kernel memory limits are gone from the kernel.
			// Accepted so old callers work, with a warning (runc does so).
			&cli.StringFlag{Name: "kernel-memory", Hidden: true},
			&cli.StringFlag{Name: "kernel-memory-tcp", Hidden: true},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if err := exactArgs(cmd, 1, "<container-id>"); err != nil {
				return err
			}
			r, err := newRuntime(cmd)
			if err != nil {
				return err
			}
			id := cmd.Args().First()
			spec, err := r.Config(id)
			if err != nil {
				return err
			}
			res := &rspec.LinuxResources{}
			if spec.Linux != nil && spec.Linux.Resources != nil {
				cp := *spec.Linux.Resources
				res = &cp
			}
			if p := cmd.String("resources"); p != "" {
				var in io.Reader = os.Stdin
				if p != "-" {
					f, err := os.Open(p)
					if err != nil {
						return fmt.Errorf("--resources: %w", err)
					}
					defer f.Close()
					in = f
				}
				res = &rspec.LinuxResources{}
				if err := json.NewDecoder(in).Decode(res); err != nil {
					return fmt.Errorf("--resources: %w", err)
				}
			}
			for _, f := range []string{"kernel-memory", "kernel-memory-tcp"} {
				if cmd.IsSet(f) {
					r.Log.Warn("--" + f + ": kernel memory limits are obsolete and not supported; ignored")
				}
			}
			if err := applyUpdateFlags(cmd, res); err != nil {
				return err
			}
			if l3, mb := cmd.String("l3-cache-schema"), cmd.String("mem-bw-schema"); l3 != "" || mb != "" {
				if err := r.UpdateIntelRdt(id, l3, mb); err != nil {
					return err
				}
			}
			return r.Update(id, res)
		},
	}
}

// updateFlags maps each numeric update flag to the resource it sets; the
// value is parsed as int64 and negative values are refused where the
// resource is unsigned.
var updateFlags = []struct {
	name     string
	unsigned bool
	bytes    bool // takes a size with a unit, as runc: 64m, 1g, 512k
	set      func(r *rspec.LinuxResources, v int64)
}{
	{"cpu-period", true, false, func(r *rspec.LinuxResources, v int64) { r.CPU.Period = u64(v) }},
	{"cpu-quota", false, false, func(r *rspec.LinuxResources, v int64) { r.CPU.Quota = &v }},
	{"cpu-share", true, false, func(r *rspec.LinuxResources, v int64) { r.CPU.Shares = u64(v) }},
	{"cpu-rt-period", true, false, func(r *rspec.LinuxResources, v int64) { r.CPU.RealtimePeriod = u64(v) }},
	{"cpu-rt-runtime", false, false, func(r *rspec.LinuxResources, v int64) { r.CPU.RealtimeRuntime = &v }},
	{"memory", false, true, func(r *rspec.LinuxResources, v int64) { r.Memory.Limit = &v }},
	{"memory-reservation", false, true, func(r *rspec.LinuxResources, v int64) { r.Memory.Reservation = &v }},
	{"memory-swap", false, true, func(r *rspec.LinuxResources, v int64) { r.Memory.Swap = &v }},
	{"cpu-burst", true, false, func(r *rspec.LinuxResources, v int64) { r.CPU.Burst = u64(v) }},
	{"cpu-idle", false, false, func(r *rspec.LinuxResources, v int64) { r.CPU.Idle = &v }},
	{"pids-limit", false, false, func(r *rspec.LinuxResources, v int64) { r.Pids = &rspec.LinuxPids{Limit: &v} }},
	{"blkio-weight", true, false, func(r *rspec.LinuxResources, v int64) {
		if r.BlockIO == nil {
			r.BlockIO = &rspec.LinuxBlockIO{}
		}
		w := uint16(v)
		r.BlockIO.Weight = &w
	}},
}

func u64(v int64) *uint64 { u := uint64(v); return &u }

func applyUpdateFlags(cmd *cli.Command, res *rspec.LinuxResources) error {
	if res.CPU == nil {
		res.CPU = &rspec.LinuxCPU{}
	}
	if res.Memory == nil {
		res.Memory = &rspec.LinuxMemory{}
	}
	for _, f := range updateFlags {
		if !cmd.IsSet(f.name) {
			continue
		}
		parse := func(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) }
		if f.bytes {
			parse = parseBytes
		}
		v, err := parse(cmd.String(f.name))
		if err != nil {
			return fmt.Errorf("--%s: invalid value %q", f.name, cmd.String(f.name))
		}
		if f.unsigned && v < 0 {
			return fmt.Errorf("--%s: must not be negative", f.name)
		}
		f.set(res, v)
	}
	// As runc: --memory -1 without --memory-swap lifts the swap limit
	// too; on cgroup v1 the kernel refuses a memory limit above
	// memory.memsw.limit_in_bytes, so unlimited memory alone fails there.
	if l := res.Memory.Limit; cmd.IsSet("memory") && l != nil && *l == -1 && !cmd.IsSet("memory-swap") {
		unlimited := int64(-1)
		res.Memory.Swap = &unlimited
	}
	if cmd.IsSet("cpuset-cpus") {
		res.CPU.Cpus = cmd.String("cpuset-cpus")
	}
	if cmd.IsSet("cpuset-mems") {
		res.CPU.Mems = cmd.String("cpuset-mems")
	}
	return nil
}

// parseBytes reads a memory flag: a size with an optional unit, or -1
// for unlimited.
func parseBytes(s string) (int64, error) {
	if strings.TrimSpace(s) == "-1" {
		return -1, nil
	}
	return units.ParseBytes(s)
}
