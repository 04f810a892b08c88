package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// imgEnv holds the paths of the image part, all under WORK/img.
type imgEnv struct {
	dir, layout, ctx, cf, tgz string
	buildah, umoci, myimg     string
}

func (b *bench) imgNote(format string, a ...any) {
	n := fmt.Sprintf(format, a...)
	fmt.Fprintln(os.Stderr, "bench: images: "+n)
	b.imgNotes = append(b.imgNotes, n)
}

// op times argv `runs` times, running pre (untimed) before each; a failing
// tool is noted and skipped for this operation.
func (b *bench) op(name, tool string, runs int, pre func() error, argv ...string) bool {
	for i := 0; i < runs; i++ {
		if pre != nil {
			if err := pre(); err != nil {
				b.imgNote("%s / %s: setup: %v", name, tool, err)
				return false
			}
		}
		syscall.Sync() // earlier writeback must not land in this timing
		r := b.r.run(cmd{Argv: argv})
		if r.Err != nil {
			b.imgNote("%s / %s failed, skipped: %v", name, tool, r.Err)
			return false
		}
		b.img.add(name, "s", tool, r.Wall.Seconds())
		fmt.Fprintf(os.Stderr, "bench: images: %-28s %-22s %6.2fs cpu %6.2fs\n", name, tool, r.Wall.Seconds(), r.CPU().Seconds())
	}
	return true
}

func (b *bench) must(argv ...string) error {
	r := b.r.run(cmd{Argv: argv})
	return r.Err
}

func lookup(name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		return ""
	}
	return p
}

func (b *bench) imageBench() error {
	e := &imgEnv{dir: filepath.Join(b.work, "img")}
	e.layout = filepath.Join(e.dir, "base")
	e.ctx = filepath.Join(e.dir, "ctx")
	e.cf = filepath.Join(e.ctx, "Containerfile")
	e.tgz = filepath.Join(e.dir, "payload.tar.gz")
	e.buildah, e.umoci = lookup("buildah"), lookup("umoci")
	if fi, err := os.Stat(b.myimg); err == nil && fi.Mode()&0o111 != 0 {
		e.myimg = b.myimg
	} else {
		b.imgNote("%s missing: myimg rows skipped (run `make build`)", b.myimg)
	}
	if e.umoci == "" {
		return fmt.Errorf("umoci not found (contrib/bench/install-deps.sh)")
	}
	if b.rootfs == "" || !exists(b.rootfs) {
		b.rootfs = filepath.Join(b.work, "rootfs")
		if err := b.must("/bin/sh", filepath.Join(b.contrib, "bundle", "busybox-rootfs.sh"), b.rootfs); err != nil {
			return err
		}
	}
	t := time.Now()
	if err := genPayload(filepath.Join(e.ctx, "payload"), b.payloadMB, b.payloadFiles); err != nil {
		return fmt.Errorf("payload: %w", err)
	}
	fmt.Fprintf(os.Stderr, "bench: images: payload %d MB / %d files in %.1fs\n", b.payloadMB, b.payloadFiles, time.Since(t).Seconds())
	if err := b.baseLayout(e); err != nil {
		return fmt.Errorf("base image: %w", err)
	}
	cf := fmt.Sprintf("FROM oci:%s:busybox\nCOPY payload /payload\nRUN find /payload -type f | wc -l > /payload-count\n", e.layout)
	if err := os.WriteFile(e.cf, []byte(cf), 0o644); err != nil {
		return err
	}
	b.buildBench(e)
	b.layerBench(e)
	b.unpackBench(e)
	b.saveLoadBench(e)
	return nil
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// baseLayout turns the busybox rootfs into an OCI layout with umoci, so
// buildah and myimg start FROM the same bytes without needing myimg.
func (b *bench) baseLayout(e *imgEnv) error {
	bb := filepath.Join(e.dir, "bb-bundle")
	steps := [][]string{
		{e.umoci, "init", "--layout", e.layout},
		{e.umoci, "new", "--image", e.layout + ":busybox"},
		{e.umoci, "unpack", "--image", e.layout + ":busybox", bb},
		{"/bin/cp", "-a", b.rootfs + "/.", bb + "/rootfs/"},
		{e.umoci, "repack", "--image", e.layout + ":busybox", bb},
		{e.umoci, "config", "--image", e.layout + ":busybox", "--config.cmd", "sh"},
	}
	for _, s := range steps {
		if err := b.must(s...); err != nil {
			return err
		}
	}
	return os.RemoveAll(bb)
}

// fresh empties a directory (unmounting anything below it first).
func fresh(dir string) error {
	unmountBelow(dir)
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.MkdirAll(dir, 0o755)
}

// unmountBelow detaches every mount at or under dir, deepest first.
func unmountBelow(dir string) {
	var ms []string
	for m := range readMounts("/proc/self/mountinfo") {
		if m == dir || strings.HasPrefix(m, dir+"/") {
			ms = append(ms, m)
		}
	}
	sort.Slice(ms, func(i, j int) bool { return len(ms[i]) > len(ms[j]) })
	for _, m := range ms {
		syscall.Unmount(m, syscall.MNT_DETACH)
	}
}

func (e *imgEnv) bah(store string, args ...string) []string {
	return append([]string{e.buildah, "--root", filepath.Join(store, "root"), "--runroot", filepath.Join(store, "run"), "--storage-driver", "overlay"}, args...)
}

func (e *imgEnv) mi(store string, args ...string) []string {
	return append([]string{e.myimg, "--root", store}, args...)
}

func (b *bench) buildBench(e *imgEnv) {
	n := b.imgRuns
	bst, mst := filepath.Join(e.dir, "buildah"), filepath.Join(e.dir, "myimg")
	if e.buildah != "" {
		wipe := func() error { b.buildahWipe(e, bst); return fresh(bst) }
		bud := e.bah(bst, "bud", "--pull=never", "--layers", "--runtime", "runc", "-f", e.cf, "-t", "bench:latest", e.ctx)
		if b.op("build (COPY+RUN)", "buildah bud", n, wipe, bud...) {
			b.op("rebuild (no change)", "buildah bud", n, nil, bud...)
		}
	} else {
		b.imgNote("buildah not found: install it with contrib/bench/install-deps.sh")
	}
	if e.myimg != "" {
		build := e.mi(mst, "build", "-f", e.cf, "-t", "bench:latest", e.ctx)
		if b.op("build (COPY+RUN)", "myimg build", n, func() error { return fresh(mst) }, build...) {
			b.op("rebuild (no change)", "myimg build", n, nil, build...)
		}
	}
}

func (b *bench) layerBench(e *imgEnv) {
	n := b.imgRuns
	layerOp := fmt.Sprintf("layer create (%d MB dir)", b.payloadMB)
	payload := filepath.Join(e.ctx, "payload")
	b.op(layerOp, "tar -czf", n, func() error { return os.RemoveAll(e.tgz) },
		"/bin/tar", "-czf", e.tgz, "-C", e.ctx, "payload")
	b.op(layerOp, "umoci insert", n,
		func() error { return b.must(e.umoci, "tag", "--image", e.layout+":busybox", "ins") },
		e.umoci, "insert", "--image", e.layout+":ins", payload, "/payload")
	if e.myimg != "" {
		ist := filepath.Join(e.dir, "myimg-import")
		b.op(layerOp, "myimg import", n, func() error { return fresh(ist) },
			e.mi(ist, "import", payload, "payload:latest")...)
	}
}

func (b *bench) unpackBench(e *imgEnv) {
	n := b.imgRuns
	out := filepath.Join(e.dir, "unpacked")
	if exists(e.tgz) {
		b.op("unpack", "tar -xzf", n, func() error { return fresh(out) }, "/bin/tar", "-xzf", e.tgz, "-C", out)
	}
	b.op("unpack", "umoci unpack", n, func() error { fresh(out); return os.Remove(out) },
		e.umoci, "unpack", "--image", e.layout+":ins", out)
	ist := filepath.Join(e.dir, "myimg-import")
	if e.myimg != "" && exists(ist) {
		b.op("unpack", "myimg unpack --copy", n, func() error { fresh(out); return os.Remove(out) },
			e.mi(ist, "unpack", "--copy", "payload:latest", out)...)
		// The overlay mode extracts each layer once into <store>/layers;
		// cold empties that cache, cached is the second unpack of an image.
		again := func() error {
			b.must(e.mi(ist, "unmount", out)...)
			fresh(out)
			return os.Remove(out)
		}
		cold := func() error {
			again()
			return os.RemoveAll(filepath.Join(ist, "layers"))
		}
		if b.op("unpack", "myimg unpack (overlay, cold)", n, cold, e.mi(ist, "unpack", "payload:latest", out)...) {
			b.op("unpack again (layer cache)", "myimg unpack (overlay)", n, again, e.mi(ist, "unpack", "payload:latest", out)...)
			b.must(e.mi(ist, "unmount", out)...)
		}
	}
	unmountBelow(out)
	os.RemoveAll(out)
}

func (b *bench) saveLoadBench(e *imgEnv) {
	n := b.imgRuns
	skopeo := lookup("skopeo")
	arch := filepath.Join(e.dir, "save.tar")
	rm := func() error { return os.RemoveAll(arch) }
	l2 := filepath.Join(e.dir, "loaded")
	if skopeo != "" {
		b.op("save (oci-archive)", "skopeo copy", n, rm, skopeo, "copy", "oci:"+e.layout+":ins", "oci-archive:"+arch)
		b.op("load (oci-archive)", "skopeo copy", n, func() error { return fresh(l2) }, skopeo, "copy", "oci-archive:"+arch, "oci:"+l2+":ins")
	}
	bst := filepath.Join(e.dir, "buildah")
	if e.buildah != "" && b.img.index["build (COPY+RUN)"] != nil && len(b.img.index["build (COPY+RUN)"].Samples["buildah bud"]) > 0 {
		b.op("save (oci-archive)", "buildah push", n, rm, e.bah(bst, "push", "bench:latest", "oci-archive:"+arch)...)
		bst2 := filepath.Join(e.dir, "buildah-load")
		b.op("load (oci-archive)", "buildah pull", n, func() error { b.buildahWipe(e, bst2); return fresh(bst2) },
			e.bah(bst2, "pull", "oci-archive:"+arch)...)
		b.buildahWipe(e, bst2)
	}
	mst := filepath.Join(e.dir, "myimg")
	if e.myimg != "" && exists(mst) {
		if b.op("save (oci-archive)", "myimg save", n, rm, e.mi(mst, "save", "--format", "oci-archive", "-o", arch, "bench:latest")...) {
			m2 := filepath.Join(e.dir, "myimg-load")
			b.op("load (oci-archive)", "myimg load", n, func() error { return fresh(m2) }, e.mi(m2, "load", "-i", arch)...)
		}
	}
}

// buildahWipe removes containers and images of a private buildah store so
// its overlay mounts go away before the directory is deleted.
func (b *bench) buildahWipe(e *imgEnv, store string) {
	if e.buildah == "" || !exists(store) {
		return
	}
	b.r.run(cmd{Argv: e.bah(store, "rm", "--all")})
	b.r.run(cmd{Argv: e.bah(store, "rmi", "--all", "--force")})
	unmountBelow(store)
}

// imageCleanup runs at the end and on interrupt.
func (b *bench) imageCleanup() {
	dir := filepath.Join(b.work, "img")
	if !exists(dir) {
		return
	}
	if bah := lookup("buildah"); bah != "" {
		e := &imgEnv{buildah: bah}
		b.buildahWipe(e, filepath.Join(dir, "buildah"))
		b.buildahWipe(e, filepath.Join(dir, "buildah-load"))
	}
	unmountBelow(dir)
}
