package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/myrun-org/myrun/imgtool/store"
)

// readEnvFiles reads --env-file files as podman does: one K=V or bare K
// (the host's value) a line; blank lines and lines starting with # are
// skipped. The values come before -e ones, so -e wins.
func readEnvFiles(files []string) ([]string, error) {
	var out []string
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, fmt.Errorf("--env-file: %w", err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimLeft(sc.Text(), " \t")
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			k, _, hasEq := strings.Cut(line, "=")
			if k == "" || strings.ContainsAny(k, " \t") {
				fh.Close()
				return nil, fmt.Errorf("--env-file %s:%d: %q is not K=V or a variable name", f, n, line)
			}
			if hasEq {
				out = append(out, line)
			} else if v, ok := os.LookupEnv(k); ok {
				out = append(out, k+"="+v)
			}
		}
		err = sc.Err()
		fh.Close()
		if err != nil {
			return nil, fmt.Errorf("--env-file %s: %w", f, err)
		}
	}
	return out, nil
}

// expandPortRanges turns -p [IP:]H1-H2:C1-C2[/proto] into one -p per
// port (the ranges must be as long), and -p C[-C2] or IP::C into ports
// on free host ports; other values pass unchanged.
func expandPortRanges(specs []string) ([]string, error) {
	var out []string
	for _, spec := range specs {
		rest, proto := spec, ""
		if i := strings.LastIndexByte(rest, '/'); i >= 0 {
			rest, proto = rest[:i], rest[i:]
		}
		parts := strings.Split(rest, ":")
		// CTR[-CTR2] or IP::CTR: host ports the kernel picks, as podman.
		if len(parts) == 1 || (len(parts) == 3 && parts[1] == "") {
			c1, c2, err := portRange(parts[len(parts)-1])
			if err != nil {
				return nil, fmt.Errorf("-p %q: container ports: %w", spec, err)
			}
			p := strings.TrimPrefix(proto, "/")
			if p == "" {
				p = "tcp"
			}
			ip := ""
			if len(parts) == 3 {
				ip = parts[0] + ":"
			}
			for c := c1; c <= c2; c++ {
				hp, err := freeHostPort(p)
				if err != nil {
					return nil, fmt.Errorf("-p %q: no free host port: %w", spec, err)
				}
				out = append(out, fmt.Sprintf("%s%d:%d%s", ip, hp, c, proto))
			}
			continue
		}
		if len(parts) < 2 || !strings.Contains(parts[len(parts)-1], "-") && !strings.Contains(parts[len(parts)-2], "-") {
			out = append(out, spec)
			continue
		}
		ip := strings.Join(parts[:len(parts)-2], ":")
		if ip != "" {
			ip += ":"
		}
		h1, h2, err := portRange(parts[len(parts)-2])
		if err != nil {
			return nil, fmt.Errorf("-p %q: host ports: %w", spec, err)
		}
		c1, c2, err := portRange(parts[len(parts)-1])
		if err != nil {
			return nil, fmt.Errorf("-p %q: container ports: %w", spec, err)
		}
		if h2-h1 != c2-c1 {
			return nil, fmt.Errorf("-p %q: the host range has %d ports, the container range %d", spec, h2-h1+1, c2-c1+1)
		}
		for i := 0; i <= c2-c1; i++ {
			out = append(out, fmt.Sprintf("%s%d:%d%s", ip, h1+i, c1+i, proto))
		}
	}
	return out, nil
}

func portRange(s string) (int, int, error) {
	a, b, isRange := strings.Cut(s, "-")
	lo, err := strconv.Atoi(a)
	if err != nil || lo < 1 || lo > 65535 {
		return 0, 0, fmt.Errorf("%q is not a port or range (1-65535)", s)
	}
	hi := lo
	if isRange {
		if hi, err = strconv.Atoi(b); err != nil || hi < lo || hi > 65535 {
			return 0, 0, fmt.Errorf("%q is not a port range (LOW-HIGH within 1-65535)", s)
		}
	}
	return lo, hi, nil
}

// publishAll is -P: every port the image EXPOSEs, on a free host port
// the kernel picks (as podman's -P), in port order.
func publishAll(s *store.Store, image string) ([]string, error) {
	desc, err := s.Resolve(image)
	if err != nil {
		return nil, err
	}
	l, err := s.Load(desc)
	if err != nil {
		return nil, err
	}
	var exposed []string
	for p := range l.Config.Config.ExposedPorts {
		exposed = append(exposed, p)
	}
	sort.Strings(exposed)
	var out []string
	for _, e := range exposed {
		port, proto, _ := strings.Cut(e, "/")
		if proto == "" {
			proto = "tcp"
		}
		if _, _, err := portRange(port); err != nil || strings.Contains(port, "-") || (proto != "tcp" && proto != "udp") {
			return nil, fmt.Errorf("-P: image %s exposes %q: want PORT[/tcp|udp]", image, e)
		}
		hp, err := freeHostPort(proto)
		if err != nil {
			return nil, fmt.Errorf("-P: no free host port for %s: %w", e, err)
		}
		out = append(out, fmt.Sprintf("%d:%s/%s", hp, port, proto))
	}
	return out, nil
}

func freeHostPort(proto string) (int, error) {
	if proto == "udp" {
		c, err := net.ListenPacket("udp4", ":0")
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port, nil
	}
	l, err := net.Listen("tcp4", ":0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
