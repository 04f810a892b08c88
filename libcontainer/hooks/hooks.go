// Package hooks runs OCI lifecycle hooks with the container state on stdin.
package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/myrun-org/myrun/libcontainer/nsexec"
)

// Run executes hooks in order and stops at the first failure. name is the
// hook kind ("prestart", "poststop", ...), used in errors.
func Run(name string, hooks []rspec.Hook, st *rspec.State) error {
	if len(hooks) == 0 {
		return nil
	}
	input, err := json.Marshal(st)
	if err != nil {
		return err
	}
	for i, h := range hooks {
		if err := runOne(h, input); err != nil {
			return fmt.Errorf("%s hook #%d (%s): %w", name, i, h.Path, err)
		}
	}
	return nil
}

// RunAll executes every hook even when some fail, as the spec wants for
// poststart and poststop, and returns the failures joined.
func RunAll(name string, hooks []rspec.Hook, st *rspec.State) error {
	if len(hooks) == 0 {
		return nil
	}
	input, err := json.Marshal(st)
	if err != nil {
		return err
	}
	var errs []error
	for i, h := range hooks {
		if err := runOne(h, input); err != nil {
			errs = append(errs, fmt.Errorf("%s hook #%d (%s): %w", name, i, h.Path, err))
		}
	}
	return errors.Join(errs...)
}

func runOne(h rspec.Hook, input []byte) error {
	ctx := context.Background()
	if h.Timeout != nil {
		if *h.Timeout <= 0 {
			return fmt.Errorf("timeout must be positive, got %d", *h.Timeout)
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, h.Path)
	// args follows execv semantics: args[0] is argv[0].
	if len(h.Args) > 0 {
		cmd.Args = h.Args
	}
	cmd.Env = h.Env
	// A foreground run blocks signals for its signalfd: the hook
	// gets the mask myrun was started with.
	nsexec.ViaCallerMask(cmd)
	cmd.Stdin = bytes.NewReader(input)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	// Its own process group, so a timeout kills whatever it started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("timed out after %ds", *h.Timeout)
	}
	if err != nil {
		if s := strings.TrimSpace(out.String()); s != "" {
			return fmt.Errorf("%w: %s", err, s)
		}
		return err
	}
	return nil
}
