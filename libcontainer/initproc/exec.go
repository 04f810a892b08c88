package initproc

import (
	"errors"
	"log/slog"

	"github.com/myrun-org/myrun/libcontainer/caps"
	"github.com/myrun-org/myrun/libcontainer/syncproto"
)

// execProcess runs an additional process in a running container: the
// constructor joined every namespace already, so only the process setup
// remains. conn is close-on-exec.
func execProcess(cfg *Config, conn *syncproto.Conn, log *slog.Logger) error {
	if cfg.Process == nil {
		return errors.New("exec: no process")
	}
	c, err := caps.New(cfg.Process.Capabilities)
	if err != nil {
		return err
	}
	c.WarnDropped(log)
	// The parent learns of a successful execve from the socket closing
	// (close-on-exec), and of any failure from an error message.
	return finishProcess(cfg, conn, log, c)
}
