package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v3"
	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/imgtool/container"
	"github.com/myrun-org/myrun/imgtool/network"
	"github.com/myrun-org/myrun/imgtool/store"
)

func openContainers(cmd *cli.Command) (*container.Manager, error) {
	s, err := openStore(cmd)
	if err != nil {
		return nil, err
	}
	container.RuntimeFallback = func() string { return findRuntime("") }
	return container.Open(s)
}

// containersWith checks the argument count (needArgs) and opens the
// container store: the preamble of the container verbs.
func containersWith(cmd *cli.Command, min, max int) (*container.Manager, error) {
	if err := needArgs(cmd, min, max); err != nil {
		return nil, err
	}
	return openContainers(cmd)
}

func runCommand() *cli.Command {
	one := 1
	return &cli.Command{
		Name:      "run",
		Usage:     "Run a command in a new container from an image",
		ArgsUsage: "IMAGE [COMMAND [ARG...]]",
		Description: `The rootfs is laid out with the global --storage-driver and --storage-opt
($STORAGE_DRIVER, $STORAGE_OPTS, storage.conf), as for build: the kernel's
overlay over the store's cached layers, fuse-overlayfs (overlay.mount_program;
its process is ended with the container's removal) or vfs, a copy; unset, the
kernel's overlay, else fuse-overlayfs, else a copy. Not root: always a copy
(a forced mount is refused).

The container runs through the myrun runtime (--runtime, $MYIMG_RUNTIME, myrun
beside myimg or in PATH) with its own state root under the store. A monitor process holds its
stdio, logs it (JSON lines in /var/log/myimg/ID.log, or under the store when
not root) and records the exit code. Networks: bridge (root; bridge myimg0,
10.89.0.0/24, NAT and -p by iptables DNAT), slirp4netns (default when not
root), host, none.`,
		StopOnNthArg:           &one,
		UseShortOptionHandling: true,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "run in the background and print the container ID"},
			&cli.BoolFlag{Name: "rm", Usage: "remove the container when it exits"},
			&cli.StringFlag{Name: "name", Usage: "assign a `name` to the container"},
			&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set an environment variable `K=V` (K alone: take the host's value)"},
			&cli.StringFlag{Name: "workdir", Aliases: []string{"w"}, Usage: "working `directory` inside the container"},
			&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "`user`[:group] (names or ids, resolved in the image)"},
			&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a pseudo-terminal (foreground only)"},
			&cli.BoolFlag{Name: "interactive", Aliases: []string{"i"}, Usage: "keep stdin connected (with -d: open, for myimg attach to write)"},
			&cli.StringSliceFlag{Name: "volume", Aliases: []string{"v"}, Usage: "bind mount a host path or a named volume `HOST|NAME:CTR[:ro|rw][,nocopy]` (nocopy: do not fill an unpopulated volume from the image)"},
			&cli.StringFlag{Name: "net", Aliases: []string{"network"}, Usage: "network `mode`: bridge (root default), slirp4netns (rootless default), pasta, host, none, or a NAME of myimg network create"},
			&cli.StringSliceFlag{Name: "publish", Aliases: []string{"p"}, Usage: "publish a port or range `[IP:]HOST[-HOST2]:CTR[-CTR2][/tcp|udp]` (CTR or IP::CTR: a free host port)"},
			&cli.BoolFlag{Name: "publish-all", Aliases: []string{"P"}, Usage: "publish every port the image EXPOSEs on a free host port"},
			&cli.StringFlag{Name: "restart", Usage: "restart `policy`: no, on-failure[:N], always, unless-stopped (with -d; done by the monitor with backoff)"},
			&cli.StringSliceFlag{Name: "env-file", Usage: "read environment variables from `file` (K=V lines; -e wins)"},
			&cli.StringSliceFlag{Name: "dns", Usage: "DNS server `IP` for the container's resolv.conf"},
			&cli.StringFlag{Name: "hostname", Usage: "container host `name` (default: the short ID)"},
			&cli.StringFlag{Name: "memory", Aliases: []string{"m"}, Usage: "memory limit (e.g. 512m, 1g)"},
			&cli.StringFlag{Name: "cpus", Usage: "number of CPUs (e.g. 0.5)"},
			&cli.Int64Flag{Name: "pids-limit", Usage: "maximum number of processes"},
			&cli.StringFlag{Name: "runtime", Usage: "`path` of the OCI runtime", Sources: cli.EnvVars("MYIMG_RUNTIME")},
			&cli.StringFlag{Name: "bridge", Value: network.DefaultBridge, Usage: "bridge `name` for --net bridge", Sources: cli.EnvVars("MYIMG_BRIDGE")},
			&cli.StringFlag{Name: "health-cmd", Usage: "healthcheck `command` (a shell line, a JSON array, or none); replaces the image's HEALTHCHECK"},
			&cli.StringFlag{Name: "health-interval", Usage: "`time` between checks (default 30s; disable: only `myimg healthcheck run`)"},
			&cli.StringFlag{Name: "health-timeout", Usage: "`time` a check may take (default 30s)"},
			&cli.StringFlag{Name: "health-start-period", Usage: "`time` after start in which failures do not count (default 0s)"},
			&cli.IntFlag{Name: "health-retries", Usage: "failures in a row that make the container unhealthy (default 3)"},
			&cli.StringSliceFlag{Name: "label", Aliases: []string{"l"}, Usage: "set a container label `K=V` (over the image's labels)"},
			&cli.BoolFlag{Name: "no-healthcheck", Usage: "disable the image's HEALTHCHECK"},
			&cli.StringFlag{Name: "health-on-failure", Usage: "`action` when the container turns unhealthy: none, kill, restart (with -d) or stop"},
			&cli.StringFlag{Name: "subnet", Value: network.DefaultSubnet, Usage: "IPv4 `CIDR` of the bridge network", Sources: cli.EnvVars("MYIMG_SUBNET")},
		},
		Action: runAction,
	}
}

func runAction(ctx context.Context, cmd *cli.Command) error {
	if cmd.Args().Len() < 1 {
		return fmt.Errorf("run: an IMAGE is required\nUsage: myimg run [OPTIONS] IMAGE [COMMAND [ARG...]]")
	}
	cs, err := openContainers(cmd)
	if err != nil {
		return err
	}
	envs, err := readEnvFiles(cmd.StringSlice("env-file"))
	if err != nil {
		return err
	}
	st, err := storageDriver(cmd)
	if err != nil {
		return err
	}
	st.Notes = os.Stderr
	ports, err := expandPortRanges(cmd.StringSlice("publish"))
	if err != nil {
		return err
	}
	if cmd.Bool("publish-all") {
		all, err := publishAll(cs.Images, cmd.Args().First())
		if err != nil {
			return err
		}
		ports = append(ports, all...)
	}
	o := &container.Options{
		Image: cmd.Args().First(), Args: cmd.Args().Tail(), Name: cmd.String("name"),
		Detach: cmd.Bool("detach"), AutoRemove: cmd.Bool("rm"), Env: append(envs, cmd.StringSlice("env")...),
		Workdir: cmd.String("workdir"), User: cmd.String("user"), TTY: cmd.Bool("tty"),
		Stdin: cmd.Bool("interactive"), Volumes: cmd.StringSlice("volume"), Net: cmd.String("net"),
		Ports: ports, DNS: cmd.StringSlice("dns"), Hostname: cmd.String("hostname"),
		Memory: cmd.String("memory"), CPUs: cmd.String("cpus"), PidsLimit: cmd.Int64("pids-limit"),
		Runtime: findRuntime(cmd.String("runtime")), Bridge: cmd.String("bridge"), Subnet: cmd.String("subnet"),
		Restart: cmd.String("restart"), Labels: cmd.StringSlice("label"), Storage: st,
		Health: container.HealthFlags{Cmd: cmd.String("health-cmd"), Interval: cmd.String("health-interval"),
			Timeout: cmd.String("health-timeout"), StartPeriod: cmd.String("health-start-period"), Disable: cmd.Bool("no-healthcheck"), OnFailure: cmd.String("health-on-failure")},
	}
	if cmd.IsSet("health-cmd") && o.Health.Cmd == "" {
		return fmt.Errorf("--health-cmd: empty command")
	}
	if cmd.IsSet("health-retries") {
		n := int(cmd.Int("health-retries"))
		o.Health.Retries = &n
	}
	r, err := cs.Create(o)
	if err != nil {
		return err
	}
	if o.Detach {
		self, err := os.Executable()
		if err == nil {
			err = cs.StartDetached(r, self, []string{"--root", cs.Images.Root})
		}
		if err != nil {
			cs.Remove(r.ID, container.RemoveOptions{Force: true})
			return err
		}
		fmt.Println(r.ID)
		return nil
	}
	return runForeground(cs, r, o)
}

// runForeground is its own container's monitor: output is logged and
// shown, signals are passed on, and the exit code becomes ours.
func runForeground(cs *container.Manager, r *container.Record, o *container.Options) error {
	att := &container.Attach{Stdout: os.Stdout, Stderr: os.Stderr, TTY: o.TTY}
	if o.Stdin || o.TTY {
		att.Stdin = os.Stdin
	}
	sigs := make(chan os.Signal, 4)
	if !o.TTY {
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
		go func() {
			for s := range sigs {
				cs.Kill(r, unix.SignalName(s.(syscall.Signal)))
			}
		}()
	}
	code, err := cs.Monitor(r.ID, att, nil)
	signal.Stop(sigs)
	if err != nil || o.AutoRemove {
		if rerr := cs.Remove(r.ID, container.RemoveOptions{Force: true}); rerr != nil && err == nil {
			err = rerr
		}
	}
	if err != nil {
		return err
	}
	if code != 0 {
		os.Exit(code)
	}
	return nil
}

func monitorCommand() *cli.Command {
	return &cli.Command{
		Name:   container.MonitorCommand,
		Hidden: true,
		Usage:  "internal: supervise a detached container (fd 3 reports readiness)",
		Action: func(ctx context.Context, cmd *cli.Command) error {
			cs, err := containersWith(cmd, 1, 1)
			if err != nil {
				return err
			}
			return cs.ServeMonitor(cmd.Args().First(), os.NewFile(3, "ready"))
		},
	}
}

func pauseCommand() *cli.Command {
	return &cli.Command{
		Name:   container.PauseCommand,
		Hidden: true,
		Usage:  "internal: hold a rootless container's namespaces until stdin closes",
		Action: func(ctx context.Context, cmd *cli.Command) error {
			return container.ServePause(os.NewFile(3, "ready"))
		},
	}
}

func usernsCommand() *cli.Command {
	return &cli.Command{
		Name:   container.UsernsCommand,
		Hidden: true,
		Usage:  "internal: unpack or remove a rootless container's rootfs inside its user namespace",
		Action: func(ctx context.Context, cmd *cli.Command) error {
			return container.ServeUserns(func() (*store.Store, error) { return openStore(cmd) }, cmd.Args().Slice())
		},
	}
}
