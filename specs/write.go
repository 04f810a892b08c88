package specs

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// WriteSpec writes s as indented JSON to path. Unless force is set it
// refuses to replace an existing file, with runc's message.
func WriteSpec(path string, s *rspec.Spec, force bool) error {
	data, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		return err
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if !force {
		// O_EXCL makes the exists-check and the create one step.
		flags = os.O_WRONLY | os.O_CREATE | os.O_EXCL
	}
	f, err := os.OpenFile(path, flags, 0o666)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			//lint:ignore ST1005 runc's exact wording, which users and scripts know
			return fmt.Errorf("File %s exists. Remove it first", filepath.Base(path))
		}
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
