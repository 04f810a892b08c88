package unpack

import (
	"fmt"
	"path/filepath"

	"github.com/myrun-org/myrun/imgtool/store"
)

// unpackMarker sits in a bundle while Bundle makes it, naming the
// process. A killed unpack leaves it, with a half-made rootfs (perhaps
// an overlay still mounted) and no config.json: the next unpack into the
// same directory, or `unmount` of it, removes that as the store removes
// a dead writer's ingest dir. Bundle deletes it once config.json is in.
const unpackMarker = ".myimg-unpacking"

// recoverHalfMade removes bundle when a dead unpack left it; it reports
// whether it did. A live unpack's bundle is an error.
func recoverHalfMade(s *store.Store, bundle string) (bool, error) {
	pid, gone, ok, err := store.OwnerOf(filepath.Join(bundle, unpackMarker))
	if err != nil || !ok {
		return false, err
	}
	if !gone {
		return false, fmt.Errorf("bundle %s: being unpacked by process %s", bundle, pid)
	}
	if err := RemoveForce(s, bundle); err != nil {
		return false, fmt.Errorf("bundle %s: removing what a killed unpack (process %s) left: %w", bundle, pid, err)
	}
	return true, nil
}
