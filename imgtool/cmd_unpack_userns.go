package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/myrun-org/myrun/imgtool/container"
	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/myrun-org/myrun/imgtool/userns"
)

// callerRanges gives an unprivileged caller's maps when they need the
// subordinate ids (ok false for root, or a user without ranges: the
// single mapping, after the warning).
func callerRanges() (userns.Maps, bool, error) {
	if os.Geteuid() == 0 {
		return userns.Maps{}, false, nil
	}
	m, warn, err := userns.ForCaller()
	if err != nil {
		return m, false, err
	}
	if warn != "" {
		fmt.Fprintln(os.Stderr, warn)
	}
	return m, m.Multi(), nil
}

// unpackInUserNS extracts the image as root of a user namespace with the
// caller's ranges (as a rootless `run` does), so files keep the image's
// owners (root's become the caller's, others subordinate ids), then puts
// those maps in the bundle's config.json.
func unpackInUserNS(s *store.Store, digest, bundle string, m userns.Maps) error {
	root, err := filepath.Abs(s.Root)
	if err != nil {
		return err
	}
	if bundle, err = filepath.Abs(bundle); err != nil {
		return err
	}
	if err := userns.Run(m, "--root", root, container.UsernsCommand, "unpack", digest, bundle); err != nil {
		return err
	}
	cfg := filepath.Join(bundle, "config.json")
	b, err := os.ReadFile(cfg)
	if err != nil {
		return err
	}
	var spec rspec.Spec
	if err := json.Unmarshal(b, &spec); err != nil {
		return fmt.Errorf("%s: %w", cfg, err)
	}
	spec.Linux.UIDMappings, spec.Linux.GIDMappings = m.UIDs, m.GIDs
	if b, err = json.MarshalIndent(&spec, "", "\t"); err != nil {
		return err
	}
	return store.WriteFileAtomic(cfg, b, 0o644)
}

// unmountInUserNS removes a bundle from inside the user namespace: the
// caller cannot enter directories a subordinate id owns with mode 0700.
func unmountInUserNS(s *store.Store, bundle string, m userns.Maps) error {
	root, err := filepath.Abs(s.Root)
	if err != nil {
		return err
	}
	if bundle, err = filepath.Abs(bundle); err != nil {
		return err
	}
	return userns.Run(m, "--root", root, container.UsernsCommand, "unmount", bundle)
}
