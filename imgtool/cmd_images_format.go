package main

import (
	"strings"
	"time"

	"github.com/myrun-org/myrun/imgtool/store"
)

// imageRow is what an `images --format` template sees (podman's names).
type imageRow struct {
	ID, Repository, Tag, Digest string
	Created, CreatedSince       string
	CreatedAt                   time.Time
	Size                        string
	Name                        string
}

// imageJSON is one entry of `images --format json`, in podman's keys.
type imageJSON struct {
	ID        string    `json:"Id"`
	Names     []string  `json:"Names"`
	Digest    string    `json:"Digest"`
	Size      int64     `json:"Size"`
	Created   int64     `json:"Created"`
	CreatedAt time.Time `json:"CreatedAt"`
}

var imageHeaders = map[string]string{"ID": "IMAGE ID", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Repository": "REPOSITORY", "Tag": "TAG"}

func newImageRow(name, id, dgst string, created time.Time, size int64, short bool) imageRow {
	repo, tag := splitName(name)
	return imageRow{ID: imageIDColumn(id, short), Repository: repo, Tag: tag, Digest: dgst,
		Created: ago(created), CreatedSince: ago(created), CreatedAt: created, Size: humanSize(size), Name: name}
}

// splitName cuts name:tag at the tag's colon (not a registry port's).
func splitName(name string) (string, string) {
	if name == "<none>" || name == "" {
		return "<none>", "<none>"
	}
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		return name[:i], name[i+1:]
	}
	return name, "<none>"
}

func nonNone(name string) []string {
	if name == "<none>" || name == "" {
		return []string{}
	}
	return []string{name}
}

// filterRefs keeps the names `images NAME` asks for: that name (":latest"
// added when it has no tag) or, for a name without a tag, every tag of it.
func filterRefs(refs []store.Ref, arg string) []store.Ref {
	var out []store.Ref
	for _, r := range refs {
		repo, _ := splitName(r.Name)
		if r.Name != "" && (r.Name == store.NormalizeName(arg) || repo == arg) {
			out = append(out, r)
		}
	}
	return out
}
