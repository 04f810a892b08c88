// Command myimg builds, stores, moves and unpacks OCI images.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v3"

	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/myrun-org/myrun/imgtool/userns"
)

var version = "0.1.0-dev"

func main() {
	userns.PassGate()
	if err := newApp().Run(context.Background(), os.Args); err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		os.Exit(exitCode(err))
	}
}

// exitCode is the status of a wrapped cli.ExitCoder (a failed RUN's
// build.ExitError among them), else 125.
func exitCode(err error) int {
	var e cli.ExitCoder
	if errors.As(err, &e) && e.ExitCode() > 0 && e.ExitCode() < 256 {
		return e.ExitCode()
	}
	return 125 // podman's "error in the tool itself"
}

func newApp() *cli.Command {
	cmds := []*cli.Command{
		buildCommand(), imagesCommand(), withContainerInspect(inspectCommand()), tagCommand(),
		containerRmCommand(rmCommand()), imageRmiCommand(rmCommand()),
		loginCommand(), logoutCommand(), saveCommand(), loadCommand(), historyCommand(), importCommand(), pullCommand(), pushCommand(),
		unpackCommand(), unmountCommand(), pruneCommand(),
		runCommand(), healthcheckCommand(), statsCommand(), attachCommand(), networkCommand(), psCommand(), waitCommand(), topCommand(), volumeCommand(), logsCommand(), stopCommand(), execCommand(), monitorCommand(), pauseCommand(), usernsCommand(),
	}
	setNoSep(cmds)
	return &cli.Command{
		Name:    "myimg",
		Usage:   "Build, store, transfer and unpack OCI images",
		Version: version,
		Description: `myimg builds images from Containerfiles (RUN steps run in containers through
the myrun runtime), keeps them in a local store that is an OCI image layout,
moves them to and from registries and archives, and unpacks them into OCI
runtime bundles for myrun.`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "root", Usage: "storage root directory (an OCI image layout)", Value: store.DefaultRoot(), Sources: cli.EnvVars("MYIMG_ROOT")},
		}, storageFlags()...),
		Commands:                  cmds,
		DisableSliceFlagSeparator: true,
		Suggest:                   true,
	}
}

func setNoSep(cmds []*cli.Command) {
	for _, c := range cmds {
		c.DisableSliceFlagSeparator = true
		setNoSep(c.Commands)
	}
}

func openStore(cmd *cli.Command) (*store.Store, error) {
	return store.Open(cmd.Root().String("root"))
}

// storeWith checks the argument count (needArgs) and opens the image
// store: the preamble of the image verbs.
func storeWith(cmd *cli.Command, min, max int) (*store.Store, error) {
	if err := needArgs(cmd, min, max); err != nil {
		return nil, err
	}
	return openStore(cmd)
}

// imageArg is storeWith and the image named by the first argument, loaded.
func imageArg(cmd *cli.Command, min, max int) (*store.Store, *store.Loaded, error) {
	s, err := storeWith(cmd, min, max)
	if err != nil {
		return nil, nil, err
	}
	desc, err := s.Resolve(cmd.Args().First())
	if err != nil {
		return nil, nil, err
	}
	l, err := s.Load(desc)
	if err != nil {
		return nil, nil, err
	}
	return s, l, nil
}

// needArgs fails with a usage hint unless cmd got between min and max args.
func needArgs(cmd *cli.Command, min, max int) error {
	n := cmd.Args().Len()
	if n < min || (max >= 0 && n > max) {
		return fmt.Errorf("%s: wrong number of arguments (got %d)\nUsage: myimg %s %s", cmd.Name, n, cmd.Name, cmd.ArgsUsage)
	}
	return nil
}
