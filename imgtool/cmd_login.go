package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v3"
	"golang.org/x/term"

	"github.com/myrun-org/myrun/imgtool/registry"
)

func loginCommand() *cli.Command {
	return &cli.Command{
		Name:      "login",
		Usage:     "Log in to a registry: check the credentials and store them in the auth file (or its credential helper)",
		ArgsUsage: "REGISTRY",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "username", Aliases: []string{"u"}, Usage: "user `name` (asked on a terminal when missing)"},
			&cli.StringFlag{Name: "password", Aliases: []string{"p"}, Usage: "`password` (visible to other users in ps: prefer --password-stdin)"},
			&cli.BoolFlag{Name: "password-stdin", Usage: "read the password from stdin"},
			&cli.BoolFlag{Name: "get-login", Usage: "print the user name stored for REGISTRY"},
			&cli.BoolFlag{Name: "tls-verify", Value: true, Usage: "require HTTPS and verify certificates (see myimg pull)"},
			authFileFlag,
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if err := needArgs(cmd, 1, 1); err != nil {
				return err
			}
			reg := cmd.Args().First()
			if cmd.Bool("get-login") {
				u, err := registry.StoredUser(reg, cmd.String("authfile"))
				if err != nil {
					return err
				}
				if u == "" {
					return fmt.Errorf("not logged into %s", reg)
				}
				fmt.Println(u)
				return nil
			}
			if cmd.IsSet("password") && cmd.Bool("password-stdin") {
				return fmt.Errorf("--password and --password-stdin do not go together")
			}
			tty := term.IsTerminal(int(os.Stdin.Fd()))
			user, pass := cmd.String("username"), cmd.String("password")
			in := bufio.NewReader(os.Stdin)
			if user == "" {
				if !tty || cmd.Bool("password-stdin") {
					return fmt.Errorf("login: --username is required when stdin is not a terminal")
				}
				fmt.Fprint(os.Stderr, "Username: ")
				line, _ := in.ReadString('\n')
				user = strings.TrimSpace(line)
			}
			switch {
			case cmd.Bool("password-stdin"):
				b, err := io.ReadAll(in)
				if err != nil {
					return err
				}
				pass = strings.TrimRight(string(b), "\r\n")
			case !cmd.IsSet("password"):
				if !tty {
					return fmt.Errorf("login: give --password or --password-stdin when stdin is not a terminal")
				}
				fmt.Fprint(os.Stderr, "Password: ")
				b, err := term.ReadPassword(int(os.Stdin.Fd()))
				fmt.Fprintln(os.Stderr)
				if err != nil {
					return err
				}
				pass = string(b)
			}
			o, err := registryOpts(cmd)
			if err != nil {
				return err
			}
			if _, err := registry.Login(reg, user, pass, o); err != nil {
				return err
			}
			fmt.Println("Login Succeeded!")
			return nil
		},
	}
}

func logoutCommand() *cli.Command {
	return &cli.Command{
		Name:      "logout",
		Usage:     "Remove the stored credentials of a registry",
		ArgsUsage: "REGISTRY",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "remove the credentials of every registry"},
			authFileFlag,
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			reg := ""
			if cmd.Bool("all") {
				if err := needArgs(cmd, 0, 0); err != nil {
					return err
				}
			} else {
				if err := needArgs(cmd, 1, 1); err != nil {
					return err
				}
				reg = cmd.Args().First()
			}
			had, err := registry.Logout(reg, cmd.String("authfile"))
			if err != nil {
				return err
			}
			switch {
			case reg == "":
				fmt.Println("Removed login credentials for all registries")
			case !had:
				return fmt.Errorf("not logged into %s", reg)
			default:
				fmt.Println("Removed login credentials for " + reg)
			}
			return nil
		},
	}
}
