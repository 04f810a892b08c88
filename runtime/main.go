// Command myrun is an OCI runtime with runc's command line.

// No cgroup-aware GOMAXPROCS: the runtime would keep the cgroup's cpu
// files open, and a created container's init would hold them for the
// container to reopen (writable) through /proc/<init>/fd.
//
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/myrun-org/myrun/internal/logging"
	"github.com/myrun-org/myrun/libcontainer"
	"github.com/myrun-org/myrun/libcontainer/initproc"
	_ "github.com/myrun-org/myrun/libcontainer/nsexec" // links the C constructor
	"github.com/myrun-org/myrun/libcontainer/userns"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func init() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		// Credentials and capabilities are per thread until execve: keep
		// main on one OS thread for the whole of init. Two Ps, not one:
		// with no idle P, sysmon takes the P of every syscall longer
		// than 20 us (init's mounts) and starts a thread to hold it,
		// which kept sysmon at its 20 us poll for init's whole life
		// (under strace -f, which stretches every syscall: init's
		// scheduler calls 1015 -> 533 per run; without a tracer ~15
		// syscalls and ~25 context switches, docs/benchmarks.md). With
		// an idle P it leaves a syscall its P for 10 ms. Init's other threads (sysmon, GC) exist
		// either way; set*id reaches all of them (glibc's setxid).
		runtime.GOMAXPROCS(2)
		runtime.LockOSThread()
		return
	}
	// Every other verb: one P. The runtime side computes little and
	// waits on syscalls (init, the sync socket, cgroup writes), which
	// hand their P off either way; a second P only gives idle Ms
	// something to spin for: exec 189 -> 139 and state 76 -> 46 context
	// switches per command (perf stat, docs/benchmarks.md).
	runtime.GOMAXPROCS(1)
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		initproc.Main()
		return
	}
	app := newApp()
	if c := verbOf(app, os.Args); c != nil {
		app.Commands = []*cli.Command{c}
	}
	if err := app.Run(context.Background(), os.Args); err != nil {
		fatal(err)
	}
}

// inUnprivilegedUserNS is true when we are "root" only inside a user
// namespace an unprivileged user made (rootless podman runs us so).
func inUnprivilegedUserNS() bool {
	return userns.RunningInUserNS() && os.Getenv("USER") != "root"
}

func defaultRoot() string {
	if os.Geteuid() != 0 || (inUnprivilegedUserNS() && os.Getenv("XDG_RUNTIME_DIR") != "") {
		if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
			return filepath.Join(d, "myrun")
		}
		return fmt.Sprintf("/tmp/myrun-%d", os.Geteuid())
	}
	return "/run/myrun"
}

func newApp() *cli.Command {
	cmds := []*cli.Command{
		createCommand(), startCommand(), stateCommand(), killCommand(), deleteCommand(),
		runCommand(), execCommand(), specCommand(), listCommand(), featuresCommand(),
		psCommand(), pauseCommand(), resumeCommand(), updateCommand(), eventsCommand(),
		checkpointCommand(), restoreCommand(),
	}
	for _, c := range cmds {
		c.DisableSliceFlagSeparator = true
		// No "help"/"h" sub-command under a verb: `myrun run h` runs a
		// container named h, as runc does; --help still helps.
		c.HideHelpCommand = true
	}
	return &cli.Command{
		Name:    "myrun",
		Usage:   "an OCI runtime: runs containers from OCI bundles, with runc's command line",
		Version: version + "\nspec: " + specVersion(),
		Description: `myrun starts and manages containers described by OCI runtime bundles: a
directory holding config.json (what to run and how it is isolated) and the
root filesystem it names. Its commands, flags, exit codes and state format
follow runc's, so engines and scripts written for runc can use it as is.

A container's life: create (set up, process waiting), start (run the
process), then kill and delete; run does all of it in one go, in the
foreground unless -d is given. exec adds processes to a running container.

    myrun spec                # write a starter config.json
    myrun run -b BUNDLE ID    # ID: any name not already in use under --root

"myrun COMMAND --help" shows a command's options.`,
		DisableSliceFlagSeparator: true,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "debug", Usage: "enable debug logging (every setup step with its duration)"},
			&cli.StringFlag{Name: "log", Usage: "set the log file to write myrun logs to (default is '/dev/stderr')"},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "set the log format ('text' (default), or 'json')"},
			&cli.StringFlag{Name: "root", Value: defaultRoot(), Usage: "root directory for storage of container state (this should be located in tmpfs)"},
			&cli.BoolFlag{Name: "systemd-cgroup", Usage: "enable systemd cgroup support, expects cgroupsPath to be of form \"slice:prefix:name\" for e.g. \"system.slice:myrun:434234\""},
			&cli.StringFlag{Name: "rootless", Value: "auto", Usage: "ignore cgroup permission errors ('true', 'false', or 'auto')"},
			&cli.StringFlag{Name: "criu", Value: "criu", Usage: "path to the criu binary used for checkpoint and restore"},
		},
		Before:   setupLogging,
		Commands: cmds,
		// runc prints usage errors without the help text.
		OnUsageError: func(ctx context.Context, cmd *cli.Command, err error, isSubcommand bool) error { return err },
	}
}

// verbOf returns the command args name when the global flags before it
// are ones it can skip with certainty, else nil. main then gives the cli
// only that command: urfave/cli sets up every command of the tree before
// parsing (help flag and command, categories: ~0.8 M instructions for
// myrun's 17 verbs, a sixth of `state`), and the other verbs play no part
// in one verb's run. --help, --version, "help", an unknown flag or verb
// and "--" keep the whole tree, so their output and errors are the
// library's as before.
func verbOf(app *cli.Command, args []string) *cli.Command {
	takesValue := map[string]bool{}
	for _, f := range app.Flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			takesValue[n] = !isBool
		}
	}
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "--" || a == "-" {
			return nil
		}
		if a != "" && a[0] == '-' {
			name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
			v, known := takesValue[name]
			if !known {
				return nil
			}
			if v && !hasValue {
				i++
			}
			continue
		}
		for _, c := range app.Commands {
			if c.Name == a || slices.Contains(c.Aliases, a) {
				return c
			}
		}
		return nil
	}
	return nil
}

var logFile *os.File

func setupLogging(ctx context.Context, cmd *cli.Command) (context.Context, error) {
	format := cmd.String("log-format")
	if format != "text" && format != "json" {
		return ctx, fmt.Errorf("--log-format: unknown log format %q (want text or json)", format)
	}
	var out io.Writer = os.Stderr
	if p := cmd.String("log"); p != "" {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_SYNC, 0o644)
		if err != nil {
			return ctx, fmt.Errorf("--log: %w", err)
		}
		logFile, out = f, f
	}
	h := logging.Handler(out, format, cmd.Bool("debug"))
	slog.SetDefault(slog.New(h))
	return ctx, nil
}

// newRuntime builds the libcontainer runtime from the global flags.
func newRuntime(cmd *cli.Command) (*libcontainer.Runtime, error) {
	root := cmd.String("root")
	if abs, err := filepath.Abs(root); err == nil {
		root = abs
	}
	r := libcontainer.New(root, slog.Default())
	r.LogFile = logFile
	r.LogFormat = cmd.String("log-format")
	r.Debug = cmd.Bool("debug")
	r.Systemd = cmd.Bool("systemd-cgroup")
	switch v := cmd.String("rootless"); v {
	case "auto", "":
		r.Rootless = os.Geteuid() != 0 || userns.RunningInUserNS()
	case "true":
		r.Rootless = true
	case "false":
		r.Rootless = false
	default:
		return nil, fmt.Errorf("--rootless: invalid value %q (want true, false or auto)", v)
	}
	return r, nil
}

// exitError carries a process exit code through the cli library.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// failedError is a failure of the runtime itself that exits with code
// instead of 1: exec's 255, as runc, so callers can tell it from the
// process's own status.
type failedError struct {
	code int
	err  error
}

func (e failedError) Error() string { return e.err.Error() }
func (e failedError) Unwrap() error { return e.err }

func fatal(err error) {
	var ee exitError
	if errors.As(err, &ee) {
		os.Exit(ee.code)
	}
	code := 1
	var fe failedError
	if errors.As(err, &fe) {
		code = fe.code
	}
	slog.Error(err.Error())
	if logFile != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

// idCommand is a verb whose only argument is the container id.
func idCommand(name, usage, description string, fn func(*libcontainer.Runtime, string) error) *cli.Command {
	return &cli.Command{
		Name:        name,
		Usage:       usage,
		ArgsUsage:   "<container-id>",
		Description: description,
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if err := exactArgs(cmd, 1, "<container-id>"); err != nil {
				return err
			}
			r, err := newRuntime(cmd)
			if err != nil {
				return err
			}
			return fn(r, cmd.Args().First())
		},
	}
}

func exactArgs(cmd *cli.Command, n int, usage string) error {
	if cmd.Args().Len() != n {
		return fmt.Errorf("%s: requires exactly %d argument(s): %s", cmd.Name, n, usage)
	}
	return nil
}
