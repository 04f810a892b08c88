package main

import "github.com/urfave/cli/v3"

func buildCommand() *cli.Command { return &cli.Command{Name: "build"} }
func saveCommand() *cli.Command  { return &cli.Command{Name: "save"} }
func loadCommand() *cli.Command  { return &cli.Command{Name: "load"} }
func pullCommand() *cli.Command  { return &cli.Command{Name: "pull"} }
func pushCommand() *cli.Command  { return &cli.Command{Name: "push"} }
