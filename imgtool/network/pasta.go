package network

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// Pasta is the pasta binary (Debian package passt).
var Pasta = "pasta"

// ModePasta is `--net pasta`: pasta (passt's namespace mode) copies the
// host's addresses and routes into the container's namespace and
// forwards the -p ports, with no tap device or NAT table of ours.
const ModePasta = "pasta"

// HavePasta reports whether pasta is installed.
func HavePasta() bool { _, err := exec.LookPath(Pasta); return err == nil }

// HaveSlirp reports whether slirp4netns is installed.
func HaveSlirp() bool { _, err := exec.LookPath(Slirp4netns); return err == nil }

// pastaArgs are pasta's options for ports: only the -p ones are
// forwarded (pasta's default, "auto", would forward every bound port),
// nothing from the namespace to the host.
func pastaArgs(ports []PortMapping) []string {
	args := []string{"--config-net", "-q", "-T", "none", "-U", "none"}
	var tcp, udp []string
	for _, p := range ports {
		spec := fmt.Sprintf("%d:%d", p.HostPort, p.ContainerPort)
		if p.HostIP != "" {
			spec = p.HostIP + "/" + spec
		}
		if p.Proto == "udp" {
			udp = append(udp, spec)
		} else {
			tcp = append(tcp, spec)
		}
	}
	for _, x := range [][2]any{{"-t", tcp}, {"-u", udp}} {
		specs := x[1].([]string)
		if len(specs) == 0 {
			args = append(args, x[0].(string), "none")
		}
		for _, s := range specs {
			args = append(args, x[0].(string), s)
		}
	}
	return args
}

// StartPasta connects a network namespace with pasta: target is a pid
// (pasta joins its user and network namespaces: rootless) or a
// bind-mounted netns path (root; pasta would otherwise drop to nobody,
// who cannot enter it). pasta forks once the namespace is configured and
// its ports are bound; the pid of that process is returned.
func StartPasta(target string, ports []PortMapping, pidFile, logFile string) (int, error) {
	if !HavePasta() {
		return 0, fmt.Errorf("--net pasta: %s not found (apt-get install passt)", Pasta)
	}
	args := append(pastaArgs(ports), "-l", logFile, "-P", pidFile)
	if strings.HasPrefix(target, "/") {
		args = append(args, "--runas", "0", "--netns", target)
	} else {
		args = append(args, target)
	}
	os.Remove(pidFile)
	cmd := exec.Command(Pasta, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if b, _ := os.ReadFile(logFile); len(b) > 0 {
			msg = strings.TrimSpace(msg + " " + string(b))
		}
		return 0, fmt.Errorf("pasta: %w: %s", err, msg)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, fmt.Errorf("pasta: no pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pasta: pid file %s: %q", pidFile, b)
	}
	return pid, nil
}
