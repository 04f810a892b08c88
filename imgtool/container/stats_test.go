package container

import (
	"os"
	"path/filepath"
	"testing"
)

func TestStatsParsers(t *testing.T) {
	d := t.TempDir()
	w := func(name, s string) string {
		p := filepath.Join(d, name)
		os.WriteFile(p, []byte(s), 0o644)
		return p
	}
	dev := w("dev", "Inter-|   Receive                                                |  Transmit\n"+
		" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"+
		"    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0\n"+
		"  eth0:    1500      10    0    0    0     0          0         0      700       5    0    0    0     0       0          0\n"+
		"  eth1:      20       1    0    0    0     0          0         0        3       1    0    0    0     0       0          0\n")
	if rx, tx := netDev(dev); rx != 1520 || tx != 703 {
		t.Errorf("netDev: %d %d", rx, tx)
	}
	if rx, tx := netDev(filepath.Join(d, "none")); rx != -1 || tx != -1 {
		t.Errorf("netDev of nothing: %d %d", rx, tx)
	}
	blk := w("blk", "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 1\n8:16 Read 1\nTotal 12289\n")
	if rd, wr, ok := blkioV1(blk); !ok || rd != 4097 || wr != 8192 {
		t.Errorf("blkioV1: %d %d %v", rd, wr, ok)
	}
	w("io.stat", "8:0 rbytes=10 wbytes=20 rios=1 wios=2\n8:16 rbytes=1 wbytes=2\n")
	if rd, wr, ok := ioStatV2([]string{filepath.Join(d, "x"), d}); !ok || rd != 11 || wr != 22 {
		t.Errorf("ioStatV2: %d %d %v", rd, wr, ok)
	}
	w("cpu.stat", "usage_usec 1234\nuser_usec 1000\n")
	if kv, ok := readKeyed([]string{d}, "cpu.stat"); !ok || kv["usage_usec"] != 1234 {
		t.Errorf("readKeyed: %v %v", kv, ok)
	}
	if n, ok := readInt(w("max", "max\n")); !ok || n != -1 {
		t.Errorf("readInt max: %d %v", n, ok)
	}
}
