package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/myrun-org/myrun/imgtool/container"
	"github.com/myrun-org/myrun/imgtool/network"
)

// netRow is what a `network ls --format` template sees (podman's names).
type netRow struct {
	ID, Name, Driver, Interface, Subnet, Gateway, Created string
}

// netJSON is podman's network inspect shape, plus our members. A user
// network's names resolve through its name server and /etc/hosts.
type netJSON struct {
	Name        string            `json:"name"`
	ID          string            `json:"id"`
	Driver      string            `json:"driver"`
	Interface   string            `json:"network_interface"`
	Created     time.Time         `json:"created"`
	Subnets     []netSubnet       `json:"subnets"`
	IPv6        bool              `json:"ipv6_enabled"`
	Internal    bool              `json:"internal"`
	DNS         bool              `json:"dns_enabled"`
	NameLookup  string            `json:"name_resolution"`
	Labels      map[string]string `json:"labels,omitempty"`
	IPAMOptions map[string]string `json:"ipam_options"`
	Containers  map[string]netCtr `json:"containers"`
}

type netSubnet struct {
	Subnet  string `json:"subnet"`
	Gateway string `json:"gateway"`
}

type netCtr struct {
	Name    string   `json:"name"`
	IP      string   `json:"ip,omitempty"`
	IP6     string   `json:"ip6,omitempty"`
	MAC     string   `json:"mac,omitempty"`
	Aliases []string `json:"aliases,omitempty"`
}

// defaultNet describes the default network (--net bridge) as a row of
// its own; it cannot be created or removed.
func defaultNet() *network.Net {
	br, sub := network.DefaultBridge, network.DefaultSubnet
	if v := os.Getenv("MYIMG_BRIDGE"); v != "" {
		br = v
	}
	if v := os.Getenv("MYIMG_SUBNET"); v != "" {
		sub = v
	}
	sum := sha256.Sum256([]byte("myimg default network"))
	gw := ""
	if sn, err := network.ParseSubnet(sub); err == nil {
		if ipam, err := network.NewIPAM("", sn); err == nil {
			gw = ipam.Gateway().String()
		}
	}
	return &network.Net{Name: network.ModeBridge, ID: hex.EncodeToString(sum[:]), Driver: "bridge", Interface: br, Subnet: sub, Gateway: gw}
}

func lookupNet(cs *container.Manager, ref string) (*network.Net, error) {
	if ref == network.ModeBridge {
		return defaultNet(), nil
	}
	return cs.Network(ref)
}

func networkCommand() *cli.Command {
	return &cli.Command{
		Name:  "network",
		Usage: "Manage user bridge networks (containers on one resolve each other's names)",
		Description: `A network is a bridge and an IPv4 subnet of its own (root only); run --net NAME
attaches a container to it. Every member's /etc/hosts lists the names, short
IDs and hostnames of all members, and is rewritten in place when one joins or
leaves. The bridge and its NAT rules exist while containers use it. The
default network is "bridge" (--net bridge). Each user network has a name
server on its bridge address (port 53), the first nameserver of its
members, that answers for the same names and passes other queries to the
host's resolvers. An --internal network has no NAT and no route out.
connect adds a container to one more user network (as eth1, eth2, ...;
a stopped one at its next start), disconnect takes it off again.`,
		Commands: []*cli.Command{
			networkCreateCommand(), networkLsCommand(), networkInspectCommand(), networkRmCommand(),
			networkConnectCommand(true), networkConnectCommand(false), networkDNSCommand(),
		},
	}
}

func networkCreateCommand() *cli.Command {
	return &cli.Command{
		Name:      "create",
		Usage:     "Create a bridge network",
		ArgsUsage: "NAME",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "subnet", Usage: "IPv4 `CIDR` (default: the first free 10.89.N.0/24); given an IPv6 one too (or alone), the network has IPv6"},
			&cli.BoolFlag{Name: "ipv6", Usage: "give the network IPv6 too (default subnet fd89:0:0:N::/64): between its containers and the host, no IPv6 forwarding or NAT"},
			&cli.StringFlag{Name: "interface-name", Usage: "bridge `name` (default: the first free myimgN)"},
			&cli.StringFlag{Name: "driver", Aliases: []string{"d"}, Value: "bridge", Usage: "network `driver` (only bridge)"},
			&cli.StringSliceFlag{Name: "label", Usage: "set a label `K=V`"},
			&cli.BoolFlag{Name: "internal", Usage: "no NAT and no route out: containers on it reach each other (and the host) only"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if err := needArgs(cmd, 1, 1); err != nil {
				return err
			}
			if d := cmd.String("driver"); d != "bridge" {
				return fmt.Errorf("--driver %q: only bridge is supported", d)
			}
			labels := map[string]string{}
			for _, l := range cmd.StringSlice("label") {
				k, v, _ := strings.Cut(l, "=")
				if k == "" {
					return fmt.Errorf("--label %q: want K=V", l)
				}
				labels[k] = v
			}
			cs, err := openContainers(cmd)
			if err != nil {
				return err
			}
			var sub4, sub6 string
			for _, sn := range cmd.StringSlice("subnet") {
				ip, _, err := net.ParseCIDR(sn)
				switch {
				case err != nil:
					return fmt.Errorf("--subnet %q: not a CIDR", sn)
				case ip.To4() != nil && sub4 == "":
					sub4 = sn
				case ip.To4() == nil && sub6 == "":
					sub6 = sn
				default:
					return fmt.Errorf("--subnet %s: one IPv4 and one IPv6 subnet at most", sn)
				}
			}
			n, err := cs.CreateNetwork(cmd.Args().First(), sub4, cmd.String("interface-name"), labels, cmd.Bool("ipv6"), sub6, cmd.Bool("internal"))
			if err != nil {
				return err
			}
			fmt.Println(n.Name)
			return nil
		},
	}
}

func networkLsCommand() *cli.Command {
	return &cli.Command{
		Name:    "ls",
		Aliases: []string{"list"},
		Usage:   "List networks",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "only names"},
			&cli.StringFlag{Name: "format", Usage: "`json`, a Go template ({{.ID}} {{.Name}} {{.Driver}} {{.Interface}} {{.Subnet}} {{.Gateway}} {{.Created}}) or 'table TEMPLATE'"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			cs, err := containersWith(cmd, 0, 0)
			if err != nil {
				return err
			}
			nets, err := cs.Networks()
			if err != nil {
				return err
			}
			nets = append([]*network.Net{defaultNet()}, nets...)
			if cmd.Bool("quiet") {
				for _, n := range nets {
					fmt.Println(n.Name)
				}
				return nil
			}
			var rows []netRow
			var js []netJSON
			for _, n := range nets {
				rows = append(rows, netRow{ID: n.ID[:12], Name: n.Name, Driver: n.Driver, Interface: n.Interface,
					Subnet: n.Subnet, Gateway: n.Gateway, Created: n.Created.Format(time.RFC3339)})
				js = append(js, netInspect(cs, n))
			}
			f := cmd.String("format")
			if f == "" {
				f = "table {{.ID}}\t{{.Name}}\t{{.Driver}}"
			}
			return writeFormatted(os.Stdout, f, rows, js, map[string]string{"ID": "NETWORK ID", "Interface": "INTERFACE"})
		},
	}
}

func networkInspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "Show networks as JSON",
		ArgsUsage: "NAME [NAME...]",
		Action: func(ctx context.Context, cmd *cli.Command) error {
			cs, err := containersWith(cmd, 1, -1)
			if err != nil {
				return err
			}
			var js []netJSON
			for _, a := range cmd.Args().Slice() {
				n, err := lookupNet(cs, a)
				if err != nil {
					return err
				}
				js = append(js, netInspect(cs, n))
			}
			return writeFormatted[netRow](os.Stdout, "json", nil, js, nil)
		},
	}
}

func networkRmCommand() *cli.Command {
	return &cli.Command{
		Name:      "rm",
		Aliases:   []string{"remove"},
		Usage:     "Remove networks (with -f, their containers first)",
		ArgsUsage: "NAME [NAME...]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "remove the containers on the network too (also those that joined it by connect), killing running ones"},
			&cli.IntFlag{Name: "time", Aliases: []string{"t"}, Usage: "with -f: stop running containers first, waiting this many `seconds` before SIGKILL"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			cs, err := containersWith(cmd, 1, -1)
			if err != nil {
				return err
			}
			if cmd.IsSet("time") && !cmd.Bool("force") {
				return fmt.Errorf("--time goes only with --force")
			}
			if cmd.Int("time") < 0 {
				return fmt.Errorf("--time %d: want seconds >= 0", cmd.Int("time"))
			}
			stop := time.Duration(cmd.Int("time")) * time.Second
			var errs []error
			for _, a := range cmd.Args().Slice() {
				if a == network.ModeBridge {
					errs = append(errs, fmt.Errorf("network bridge: the default network cannot be removed"))
					continue
				}
				n, err := cs.Network(a)
				if err == nil {
					err = cs.RemoveNetwork(n, cmd.Bool("force"), stop)
				}
				if err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Println(n.Name)
			}
			return errors.Join(errs...)
		},
	}
}

func netInspect(cs *container.Manager, n *network.Net) netJSON {
	j := netJSON{Name: n.Name, ID: n.ID, Driver: n.Driver, Interface: n.Interface, Created: n.Created,
		Subnets: []netSubnet{{Subnet: n.Subnet, Gateway: n.Gateway}}, NameLookup: "dns+hosts", DNS: true, Labels: n.Labels, Internal: n.Internal,
		IPAMOptions: map[string]string{"driver": "host-local"}, Containers: map[string]netCtr{}}
	if n.Subnet6 != "" {
		j.IPv6 = true
		j.Subnets = append(j.Subnets, netSubnet{Subnet: n.Subnet6, Gateway: n.Gateway6})
	}
	if n.Name == network.ModeBridge {
		j.NameLookup, j.DNS = "none", false
	}
	all, _ := cs.List()
	for _, r := range all {
		a, on := r.OnNetwork(n.Name)
		if n.Name == network.ModeBridge && r.Network.Name == "" && r.Network.Mode == network.ModeBridge {
			a, on = r.Network, true
		}
		if on && r.Status != container.StatusExited {
			j.Containers[r.ID] = netCtr{Name: r.Name, IP: a.IP, IP6: a.IP6, MAC: a.MAC, Aliases: a.Aliases}
		}
	}
	return j
}

// networkConnectCommand is `network connect` (or, !connect, `network
// disconnect`) of a container.
func networkConnectCommand(connect bool) *cli.Command {
	c := &cli.Command{
		Name:      "connect",
		Usage:     "Connect a container to a user network (running: as its next ethN, no default route; stopped: at its next start)",
		ArgsUsage: "NETWORK CONTAINER",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "alias", Usage: "one more `name` of the container on this network (hosts files and name server)"},
			&cli.StringFlag{Name: "ip", Usage: "static IPv4 `address` on this network"},
			&cli.StringFlag{Name: "ip6", Usage: "static IPv6 `address` on this network (at the offset of its IPv4 address, which it picks)"},
			&cli.StringFlag{Name: "mac-address", Usage: "static MAC `address` of the interface on this network"},
		},
	}
	if !connect {
		c.Name, c.Usage = "disconnect", "Disconnect a container from a network (also the one it was run with)"
		c.Flags = []cli.Flag{&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "forget the network even if taking it down fails (warnings)"}}
	}
	c.Action = func(ctx context.Context, cmd *cli.Command) error {
		cs, err := containersWith(cmd, 2, 2)
		if err != nil {
			return err
		}
		ref := cmd.Args().First()
		if ref == network.ModeBridge {
			return fmt.Errorf("network %s: the default network cannot be connected or disconnected (only user networks)", ref)
		}
		n, err := cs.Network(ref)
		if err != nil {
			return err
		}
		r, err := cs.Lookup(cmd.Args().Get(1))
		if err != nil {
			return err
		}
		if connect {
			return cs.Connect(r, n, container.ConnectOptions{Aliases: cmd.StringSlice("alias"),
				IP: cmd.String("ip"), IP6: cmd.String("ip6"), MAC: cmd.String("mac-address")})
		}
		return cs.Disconnect(r, n, cmd.Bool("force"))
	}
	return c
}

// networkDNSCommand is a user network's name server (hidden).
func networkDNSCommand() *cli.Command {
	return &cli.Command{
		Name:   container.DNSCommand,
		Hidden: true,
		Usage:  "internal: the name server of a user network: DIR NETWORK ADDR... (fd 3 reports readiness)",
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() < 3 {
				return fmt.Errorf("%s: want DIR NETWORK ADDR", container.DNSCommand)
			}
			a := cmd.Args().Slice()
			return network.ServeNetworkDNS(a[0], a[1], a[2:], os.NewFile(3, "ready"))
		},
	}
}
