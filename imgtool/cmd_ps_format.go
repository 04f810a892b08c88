package main

import (
	"strings"
	"time"

	"github.com/myrun-org/myrun/imgtool/container"
	"github.com/myrun-org/myrun/imgtool/network"
)

// psRow is what a `ps --format` template sees, as podman 4.3's: Created
// and CreatedAt are times ({{.Created}} prints "2026-12-03 13:21:13.6
// +0000 UTC"), RunningFor and CreatedHuman say how long ago, Command is
// cut as the table cuts it unless --no-trunc.
type psRow struct {
	ID, Image, Command, Status, State, Ports, Names string
	RunningFor, CreatedHuman                        string
	Created, CreatedAt                              time.Time
	Pid, ExitCode                                   int
}

// psCommandColumn is a container's command as podman's ps shows it: 17 bytes
// and "..." unless noTrunc.
func psCommandColumn(args []string, noTrunc bool) string {
	c := strings.Join(args, " ")
	if !noTrunc && len(c) > 17 {
		return c[:17] + "..."
	}
	return c
}

// psJSON is one entry of `ps --format json`, in podman's keys.
type psJSON struct {
	ID        string                `json:"Id"`
	Image     string                `json:"Image"`
	ImageID   string                `json:"ImageID"`
	Command   []string              `json:"Command"`
	Created   int64                 `json:"Created"`
	CreatedAt string                `json:"CreatedAt"`
	State     string                `json:"State"`
	Status    string                `json:"Status"`
	Names     []string              `json:"Names"`
	Pid       int                   `json:"Pid"`
	ExitCode  int                   `json:"ExitCode"`
	Exited    bool                  `json:"Exited"`
	StartedAt int64                 `json:"StartedAt"`
	ExitedAt  int64                 `json:"ExitedAt"`
	Ports     []network.PortMapping `json:"Ports"`
}

var psHeaders = map[string]string{"ID": "CONTAINER ID", "CreatedAt": "CREATED AT", "RunningFor": "RUNNING FOR", "CreatedHuman": "CREATED"}

// psState is podman's State of a container: running, created or exited.
func psState(cs *container.Manager, r *container.Record) string {
	switch {
	case cs.IsRunning(r):
		return "running"
	case r.Status == container.StatusCreating:
		return "created"
	}
	return "exited"
}

func psRows(cs *container.Manager, recs []*container.Record, noTrunc bool) ([]psRow, []psJSON) {
	rows, js := []psRow{}, []psJSON{}
	for _, r := range recs {
		running := cs.IsRunning(r)
		state := psState(cs, r)
		id := r.ID
		if !noTrunc {
			id = container.ShortID(id)
		}
		var ports []string
		for _, p := range r.Network.Ports {
			ports = append(ports, p.String())
		}
		status := cs.Status(r)
		pid := 0
		if running {
			pid = r.Pid
		}
		rows = append(rows, psRow{ID: id, Image: r.Image, Command: psCommandColumn(r.Command, noTrunc), Created: r.Created,
			CreatedAt: r.Created, RunningFor: ago(r.Created), CreatedHuman: ago(r.Created), Status: status, State: state,
			Ports: strings.Join(ports, ", "), Names: r.Name, Pid: pid, ExitCode: r.ExitCode})
		j := psJSON{ID: r.ID, Image: r.Image, ImageID: strings.TrimPrefix(r.ImageDigest, "sha256:"), Command: r.Command,
			Created: r.Created.Unix(), CreatedAt: ago(r.Created), State: state, Status: status, Names: []string{r.Name},
			Pid: pid, ExitCode: r.ExitCode, Exited: state == "exited", Ports: r.Network.Ports}
		if j.Command == nil {
			j.Command = []string{}
		}
		if j.Ports == nil {
			j.Ports = []network.PortMapping{}
		}
		if !r.StartedAt.IsZero() {
			j.StartedAt = r.StartedAt.Unix()
		}
		if !r.FinishedAt.IsZero() {
			j.ExitedAt = r.FinishedAt.Unix()
		}
		js = append(js, j)
	}
	return rows, js
}
