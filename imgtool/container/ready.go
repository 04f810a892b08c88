package container

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"time"
)

// readReady waits up to 10 s for the ready line of a helper just started
// as cmd (its write end of rp closed here already): "ok", or why it
// cannot serve. It returns the line, the helper's pid and start time (for
// killVerified and the records), and releases cmd's process.
func readReady(cmd *exec.Cmd, rp *os.File) (msg string, pid int, start uint64) {
	line := make(chan string, 1)
	go func() { l, _ := bufio.NewReader(rp).ReadString('\n'); line <- strings.TrimSpace(l) }()
	select {
	case msg = <-line:
	case <-time.After(10 * time.Second):
		msg = "no answer in 10s"
	}
	pid = cmd.Process.Pid
	start, _ = procStartTime(pid)
	cmd.Process.Release()
	return msg, pid, start
}
