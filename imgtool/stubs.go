package main

import "github.com/urfave/cli/v3"

func pullCommand() *cli.Command  { return &cli.Command{Name: "pull"} }
func pushCommand() *cli.Command  { return &cli.Command{Name: "push"} }
