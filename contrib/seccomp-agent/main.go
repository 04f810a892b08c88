// Command seccomp-agent is a small example seccomp notify agent for myrun.
// Point linux.seccomp.listenerPath at its socket and give some syscalls the
// SCMP_ACT_NOTIFY action; the agent answers them by policy:
//
//	seccomp-agent -socket /run/seccomp-agent.sock -rule mkdir=ok -rule mount=EPERM
//
// "ok" makes the syscall return 0 without running it; an errno name or
// number makes it fail with that errno. Other notified syscalls run normally.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"

	"golang.org/x/sys/unix"
)

type rules []string

func (r *rules) String() string     { return strings.Join(*r, ",") }
func (r *rules) Set(s string) error { *r = append(*r, s); return nil }

func main() {
	var rs rules
	socket := flag.String("socket", "", "unix socket to listen on (linux.seccomp.listenerPath)")
	once := flag.Bool("once", false, "exit when the first container's filter is gone")
	flag.Var(&rs, "rule", "syscall=ok|ERRNO|number (repeatable; default mkdir=ok, mkdirat=ok)")
	flag.Parse()
	if err := run(*socket, *once, rs); err != nil {
		fmt.Fprintln(os.Stderr, "seccomp-agent:", err)
		os.Exit(1)
	}
}

func run(socket string, once bool, rs rules) error {
	if socket == "" {
		return fmt.Errorf("-socket is required")
	}
	if len(rs) == 0 {
		rs = rules{"mkdir=ok", "mkdirat=ok"}
	}
	policy := Policy{}
	for _, r := range rs {
		name, ans, err := ParseRule(r)
		if err != nil {
			return err
		}
		policy[name] = ans
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: socket, Net: "unix"})
	if err != nil {
		return err
	}
	defer ln.Close() // also removes the socket file
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, unix.SIGINT, unix.SIGTERM)
	go func() { <-sig; ln.Close() }()
	a := &Agent{Policy: policy, Log: slog.New(slog.NewTextHandler(os.Stderr, nil))}
	return a.Serve(ln, once)
}
