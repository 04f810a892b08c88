package specs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"unicode/utf8"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// LoadBundle reads <bundle>/config.json, decodes and validates it, and
// returns the spec with the absolute rootfs path (root.path is relative to
// the bundle unless absolute).
func LoadBundle(bundle string) (*rspec.Spec, string, error) {
	abs, err := filepath.Abs(bundle)
	if err != nil {
		return nil, "", fmt.Errorf("bundle %q: %w", bundle, err)
	}
	data, err := ReadConfig(abs)
	if err != nil {
		return nil, "", err
	}
	s, err := Decode(data)
	if err != nil {
		return nil, "", err
	}
	if err := Validate(s, abs); err != nil {
		return nil, "", err
	}
	return s, RootfsPath(s, abs), nil
}

// ReadConfig reads config.json of the bundle at abs; errors name the
// file (FieldError) and say whether it is missing or unreadable.
func ReadConfig(abs string) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(abs, ConfigFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &FieldError{Msg: fmt.Sprintf("not found in bundle %q", abs)}
		}
		return nil, &FieldError{Msg: fmt.Sprintf("cannot read: %v", err)}
	}
	return data, nil
}

// Decode parses config.json content. Unknown fields are ignored as the
// spec requires; syntax errors carry line and column, type errors the field.
func Decode(data []byte) (*rspec.Spec, error) {
	if !utf8.Valid(data) {
		return nil, &FieldError{Msg: "not valid UTF-8"}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &FieldError{Msg: "empty file"}
	}
	var s rspec.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, jsonError(data, err)
	}
	return &s, nil
}

func jsonError(data []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		line, col := position(data, syn.Offset)
		return &FieldError{Msg: fmt.Sprintf("invalid JSON at line %d, column %d (offset %d): %v", line, col, syn.Offset, syn)}
	case errors.As(err, &typ):
		line, col := position(data, typ.Offset)
		field := typ.Field
		if field == "" {
			field = "(top level)"
		}
		return &FieldError{Field: field, Msg: fmt.Sprintf("cannot use JSON %s as %s (line %d, column %d)", typ.Value, typ.Type, line, col)}
	}
	return &FieldError{Msg: fmt.Sprintf("invalid JSON: %v", err)}
}

// position turns a byte offset into a 1-based line and column.
func position(data []byte, off int64) (line, col int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	before := data[:off]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(off) - (bytes.LastIndexByte(before, '\n') + 1)
	if col == 0 {
		col = 1
	}
	return line, col
}

// RootfsPath returns root.path made absolute against the bundle
// ("" when the spec has no root).
func RootfsPath(s *rspec.Spec, bundle string) string {
	if s.Root == nil || s.Root.Path == "" {
		return ""
	}
	if filepath.IsAbs(s.Root.Path) {
		return filepath.Clean(s.Root.Path)
	}
	return filepath.Join(bundle, s.Root.Path)
}
