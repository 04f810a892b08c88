package network

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Slirp4netns is the slirp4netns binary.
var Slirp4netns = "slirp4netns"

// SlirpIP is the address slirp4netns --configure gives the container.
const SlirpIP = "10.0.2.100"

// SlirpDNS is slirp4netns's built-in DNS forwarder.
const SlirpDNS = "10.0.2.3"

// StartSlirp starts slirp4netns for a network namespace: target is a pid
// (slirp4netns joins its user namespace too) or a bind-mounted netns path with its API socket at apiSock and
// waits until it has configured tap0. exitFd, if not nil, is the read end
// of a pipe: slirp4netns exits when its write end closes (the monitor
// holds it, so a killed monitor takes slirp4netns with it).
func StartSlirp(target string, apiSock string, exitFd *os.File, logTo io.Writer) (*os.Process, error) {
	if _, err := exec.LookPath(Slirp4netns); err != nil {
		return nil, fmt.Errorf("--net slirp4netns: %s not found (apt-get install slirp4netns)", Slirp4netns)
	}
	rr, rw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer rr.Close()
	args := []string{"--configure", "--mtu=65520", "--disable-host-loopback", "--api-socket", apiSock, "--ready-fd", "3"}
	extra := []*os.File{rw}
	if exitFd != nil {
		args = append(args, "--exit-fd", "4")
		extra = append(extra, exitFd)
	}
	if strings.HasPrefix(target, "/") {
		args = append(args, "--netns-type=path")
	}
	cmd := exec.Command(Slirp4netns, append(args, target, "tap0")...)
	cmd.ExtraFiles = extra
	cmd.Stdout, cmd.Stderr = logTo, logTo
	if err := cmd.Start(); err != nil {
		rw.Close()
		return nil, fmt.Errorf("start slirp4netns: %w", err)
	}
	rw.Close()
	ready := make(chan error, 1)
	go func() {
		b := make([]byte, 1)
		_, err := rr.Read(b)
		ready <- err
	}()
	select {
	case err := <-ready:
		if err != nil {
			cmd.Process.Kill()
			return nil, fmt.Errorf("slirp4netns did not become ready (see its log): %w", err)
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		return nil, fmt.Errorf("slirp4netns: not ready after 10s")
	}
	return cmd.Process, nil
}

// AddHostFwd asks slirp4netns (through its API socket) to forward p to
// the container.
func AddHostFwd(apiSock string, p PortMapping) error {
	hostIP := p.HostIP
	if hostIP == "" {
		hostIP = "0.0.0.0"
	}
	req := map[string]any{"execute": "add_hostfwd", "arguments": map[string]any{
		"proto": p.Proto, "host_addr": hostIP, "host_port": p.HostPort, "guest_port": p.ContainerPort,
	}}
	c, err := net.DialTimeout("unix", apiSock, 5*time.Second)
	if err != nil {
		return fmt.Errorf("slirp4netns API %s: %w", apiSock, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return err
	}
	if uc, ok := c.(*net.UnixConn); ok {
		uc.CloseWrite()
	}
	line, err := bufio.NewReader(c).ReadBytes('\n')
	if err != nil && err != io.EOF {
		return fmt.Errorf("slirp4netns API: %w", err)
	}
	var resp struct {
		Error *struct {
			Desc string `json:"desc"`
		} `json:"error"`
	}
	if err := json.Unmarshal(line, &resp); err != nil {
		return fmt.Errorf("slirp4netns API: bad reply %q", line)
	}
	if resp.Error != nil {
		return fmt.Errorf("-p %s: slirp4netns: %s", p, resp.Error.Desc)
	}
	return nil
}
