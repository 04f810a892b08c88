package container

import (
	"path/filepath"
	"strconv"

	"github.com/myrun-org/myrun/imgtool/network"
)

// startPasta connects the container's namespace with pasta. Its process
// is recorded in the slirp4netns fields (SlirpPid, SlirpTime): finish,
// rm and the leftover checks then end and look for it as for slirp4netns.
// pasta also quits by itself when the namespace goes.
func (cs *Manager) startPasta(r *Record) error {
	target := r.Network.Netns
	if r.Rootless {
		target = strconv.Itoa(r.PausePid)
	}
	dir := cs.Dir(r.ID)
	pid, err := network.StartPasta(target, r.Network.Ports, filepath.Join(dir, "pasta.pid"), filepath.Join(dir, "pasta.log"))
	if err != nil {
		return err
	}
	st, _ := procStartTime(pid)
	cs.Update(r.ID, func(r *Record) { r.Network.SlirpPid, r.Network.SlirpTime = pid, st })
	r.Network.SlirpPid, r.Network.SlirpTime = pid, st
	return nil
}
