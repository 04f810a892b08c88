package main

import (
	"fmt"
	"strings"

	"github.com/myrun-org/myrun/imgtool/container"
	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/opencontainers/go-digest"
)

// imageUsers are the containers made from the image with manifest d.
func imageUsers(cs *container.Manager, d digest.Digest) ([]*container.Record, error) {
	all, err := cs.List()
	if err != nil {
		return nil, err
	}
	var out []*container.Record
	for _, r := range all {
		if r.ImageDigest == d.String() {
			out = append(out, r)
		}
	}
	return out, nil
}

// guardInUse refuses to take the last name off (or remove by ID) an image
// that containers use, as podman does; with force those containers are
// removed first (podman's rmi --force). Taking one of several names off
// is always allowed: the image stays.
func guardInUse(cs *container.Manager, ref string, force bool) error {
	s := cs.Images
	desc, err := s.Resolve(ref)
	if err != nil {
		return err
	}
	refs, err := s.List()
	if err != nil {
		return err
	}
	names, isName := 0, false
	for _, r := range refs {
		if r.Desc.Digest == desc.Digest && r.Name != "" {
			names++
			if r.Name == ref || r.Name == store.NormalizeName(ref) {
				isName = true
			}
		}
	}
	if isName && names > 1 {
		return nil
	}
	users, err := imageUsers(cs, desc.Digest)
	if err != nil || len(users) == 0 {
		return err
	}
	if !force {
		var ids []string
		for _, r := range users {
			ids = append(ids, r.Name)
		}
		return fmt.Errorf("image %s is in use by container(s) %s: remove them first, or use --force to remove them with the image", ref, strings.Join(ids, ", "))
	}
	for _, r := range users {
		if err := cs.Remove(r.ID, container.RemoveOptions{Force: true}); err != nil {
			return fmt.Errorf("removing container %s that uses image %s: %w", r.Name, ref, err)
		}
	}
	return nil
}
