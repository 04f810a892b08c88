package specs

import (
	"errors"
	"fmt"
)

// ConfigFile is the name of the runtime configuration inside a bundle.
const ConfigFile = "config.json"

// FieldError is one problem in config.json, tied to the field that has it.
type FieldError struct {
	File  string // "" means config.json
	Field string // e.g. "linux.namespaces[2].type"; empty for the whole file
	Msg   string
}

func (e *FieldError) Error() string {
	file := e.File
	if file == "" {
		file = ConfigFile
	}
	if e.Field == "" {
		return file + ": " + e.Msg
	}
	return file + ": " + e.Field + ": " + e.Msg
}

// problems collects FieldErrors while walking a spec.
type problems struct {
	file string
	errs []error
}

func (p *problems) add(field, format string, args ...any) {
	p.errs = append(p.errs, &FieldError{File: p.file, Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (p *problems) err() error { return errors.Join(p.errs...) }
