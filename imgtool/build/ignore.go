package build

import (
	"os"
	"path/filepath"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// ignorer applies .containerignore / .dockerignore (with ! exceptions).
type ignorer struct {
	pm *patternmatcher.PatternMatcher
}

func loadIgnore(ctxDir string) (*ignorer, error) {
	for _, n := range []string{".containerignore", ".dockerignore"} {
		f, err := os.Open(filepath.Join(ctxDir, n))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		pats, err := ignorefile.ReadAll(f)
		f.Close()
		if err != nil {
			return nil, err
		}
		pm, err := patternmatcher.New(pats)
		if err != nil {
			return nil, err
		}
		return &ignorer{pm: pm}, nil
	}
	return &ignorer{}, nil
}

// excluded reports whether rel (slash path relative to the context) is
// ignored; descend says whether a directory must still be walked because
// an exception might re-include something under it.
func (i *ignorer) excluded(rel string) (excl, descend bool) {
	if i == nil || i.pm == nil || rel == "." || rel == "" {
		return false, true
	}
	m, err := i.pm.MatchesOrParentMatches(rel)
	if err != nil || !m {
		return false, true
	}
	return true, i.pm.Exclusions()
}
