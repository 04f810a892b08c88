package container

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/myrun-org/myrun/imgtool/network"
)

// DNSCommand is the hidden myimg subcommand that is a user network's
// name server (network.ServeNetworkDNS), under `network`: DIR NETWORK
// ADDR...
const DNSCommand = "network-dns"

func resolverPidFile(ipamDir, name string) string {
	return filepath.Join(ipamDir, "dns", name+".pid")
}

// syncResolver gives network name's name server the members' names and
// addresses: started with the first member, stopped with the last.
// Called under the network's hosts lock.
func (cs *Manager) syncResolver(name string, members []*Record) error {
	n, err := network.LoadNet(cs.IPAMDir(), name)
	if err != nil {
		return cs.stopResolver(name) // the network is gone
	}
	t := &network.DNSTable{Network: name, Internal: n.Internal}
	for _, m := range members {
		at, _ := m.on(name)
		if at.IP == "" {
			continue
		}
		t.Members = append(t.Members, network.DNSMember{ID: m.ID, Names: memberNames(m, at), IP: at.IP, IP6: at.IP6})
	}
	if len(t.Members) == 0 {
		return cs.stopResolver(name)
	}
	if err := network.WriteDNSTable(cs.IPAMDir(), t); err != nil {
		return err
	}
	if resolverAlive(cs.IPAMDir(), name) {
		return nil
	}
	addrs := []string{n.Gateway}
	if n.Gateway6 != "" {
		addrs = append(addrs, n.Gateway6)
	}
	return cs.startResolver(name, addrs)
}

// memberNames are the names m answers to on a network: its name, short
// ID, hostname and the network's aliases.
func memberNames(m *Record, at network.Attachment) []string {
	names := []string{m.Name, ShortID(m.ID)}
	if m.Hostname != m.Name && m.Hostname != ShortID(m.ID) && m.Hostname != "" {
		names = append(names, m.Hostname)
	}
	return append(names, at.Aliases...)
}

// resolverAlive reports whether network name's name server runs (its
// pid file names a live process of that start time).
func resolverAlive(ipamDir, name string) bool {
	pid, st := readResolverPid(ipamDir, name)
	return pid > 0 && alive(pid, st)
}

func readResolverPid(ipamDir, name string) (int, uint64) {
	b, err := os.ReadFile(resolverPidFile(ipamDir, name))
	if err != nil {
		return 0, 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, 0
	}
	pid, _ := strconv.Atoi(f[0])
	st, _ := strconv.ParseUint(f[1], 10, 64)
	return pid, st
}

// startResolver starts network name's name server on addrs and waits
// until it listens (or says why it cannot).
func (cs *Manager) startResolver(name string, addrs []string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	rp, wp, err := os.Pipe()
	if err != nil {
		return err
	}
	defer rp.Close()
	logf, err := os.OpenFile(filepath.Join(cs.IPAMDir(), "dns", name+".log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		wp.Close()
		return err
	}
	defer logf.Close()
	cmd := exec.Command(self, append([]string{"network", DNSCommand, cs.IPAMDir(), name}, addrs...)...)
	cmd.Stdout, cmd.Stderr, cmd.Dir = logf, logf, "/"
	cmd.ExtraFiles = []*os.File{wp}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		wp.Close()
		return fmt.Errorf("network %s: start name server: %w", name, err)
	}
	wp.Close()
	msg, pid, st := readReady(cmd, rp)
	if msg != "ok" {
		killVerified(pid, st, syscall.SIGKILL)
		reap(pid)
		return fmt.Errorf("network %s: name server on %s port 53: %s", name, strings.Join(addrs, ", "), msg)
	}
	return os.WriteFile(resolverPidFile(cs.IPAMDir(), name), fmt.Appendf(nil, "%d %d\n", pid, st), 0o600)
}

// stopResolver ends network name's name server and removes its files.
func (cs *Manager) stopResolver(name string) error {
	dir := cs.IPAMDir()
	err := network.RemoveDNSTable(dir, name)
	pid, st := readResolverPid(dir, name)
	if pid > 0 && alive(pid, st) {
		killVerified(pid, st, syscall.SIGTERM)
		for i := 0; i < 40 && alive(pid, st); i++ {
			reap(pid)
			time.Sleep(50 * time.Millisecond)
		}
		killVerified(pid, st, syscall.SIGKILL)
		reap(pid)
	}
	for _, f := range []string{resolverPidFile(dir, name), filepath.Join(dir, "dns", name+".log")} {
		if e := os.Remove(f); e != nil && !errors.Is(e, os.ErrNotExist) {
			err = errors.Join(err, e)
		}
	}
	return err
}
