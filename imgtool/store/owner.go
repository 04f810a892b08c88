package store

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// WriteOwner writes path as a marker naming this process (pid and start
// time), as the ingest directories carry, for work outside the store
// (a bundle being unpacked) that a later command must be able to judge.
func WriteOwner(path string) error {
	return os.WriteFile(path, []byte(fmt.Sprintf("%d %s", os.Getpid(), selfStartTime())), 0o600)
}

// OwnerOf reads a marker written by WriteOwner: the pid it names, and
// whether that process is certainly gone. ok is false without a marker.
func OwnerOf(path string) (pid string, gone, ok bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", false, false, nil
	}
	if err != nil {
		return "", false, false, err
	}
	pid, start, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
	return pid, !alive(pid, start), true, nil
}
