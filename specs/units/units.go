// Package units parses sizes as users type them on command lines: a number
// with an optional binary unit (k, m, g, t, with or without a trailing "b"
// or "ib", any case), as runc's and docker's memory flags accept them.
// myrun update and myimg run share it.
package units

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// ParseBytes returns the size s stands for; negative sizes are refused
// (a caller that gives -1 a meaning checks for it first).
func ParseBytes(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "ib"), "b")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k':
			mult = 1 << 10
		case 'm':
			mult = 1 << 20
		case 'g':
			mult = 1 << 30
		case 't':
			mult = 1 << 40
		}
		if mult > 1 {
			t = t[:n-1]
		}
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil {
		return 0, errors.New("not a size (e.g. 512m, 1g)")
	}
	if v < 0 || v > math.MaxInt64/mult {
		return 0, errors.New("size out of range")
	}
	return v * mult, nil
}
