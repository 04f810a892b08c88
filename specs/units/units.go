// Package units parses sizes as users type them on command lines: a number,
// decimals allowed, with an optional binary unit (k, m, g, t, p, with or
// without a trailing "b" or "ib", any case), as docker's and runc's memory
// flags accept them: docker/go-units' RAMInBytes, with surrounding blanks
// trimmed and sizes past int64 refused. myrun update and myimg run share it.
package units

import (
	"errors"
	"math"
	"strings"

	gounits "github.com/docker/go-units"
)

// ParseBytes returns the size s stands for; negative sizes are refused
// (a caller that gives -1 a meaning checks for it first).
func ParseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "-") {
		return 0, errors.New("size out of range")
	}
	v, err := gounits.RAMInBytes(t)
	if err != nil {
		return 0, errors.New("not a size (e.g. 512m, 1.5g)")
	}
	// RAMInBytes converts a float product to int64: past the int64 range
	// the result is implementation-dependent (MinInt64 on amd64,
	// MaxInt64 on arm64).
	if v < 0 || v == math.MaxInt64 {
		return 0, errors.New("size out of range")
	}
	return v, nil
}
