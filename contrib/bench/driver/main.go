// Command bench drives `make bench`: whole-process timings of myrun, runc
// and crun side by side (interleaved), and of myimg against buildah, umoci
// and tar. It measures with wait4 rusage (CPU incl. waited-for children,
// peak RSS) and prints a table of medians with ratios to the fastest peer.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

type bench struct {
	r              *reaper
	hostSp, crunSp *spawner
	spawnerBin     string
	floorKB        int64 // maxrss of /bin/true from the spawner
	mu             sync.Mutex

	work, contrib, out string
	stateDir           string // runtimes' --root, on tmpfs like /run/runc
	myrun, myimg       string
	runtimeNames       []string
	runs, warmup       int
	burst, workers     int
	burstRounds        int
	imgRuns            int
	payloadMB          int
	payloadFiles       int
	quick              bool
	countReps          int    // strace repetitions per verb
	instrReps          int    // cachegrind repetitions per verb (slow: ~1-3 s each)
	strace, valgrind   string // empty when not installed
	skipCounts         bool
	grindFailed        map[string]bool // "runtime verb" that valgrind cannot run
	notes              []string

	cgParent string
	rootfs   string
	rts      []*rtime
	peak     map[string]float64
	leaks    map[string][]string
	rt, img  table
	imgNotes []string
}

func (b *bench) add(name, unit, tool string, v float64) {
	b.mu.Lock()
	b.rt.add(name, unit, tool, v)
	b.mu.Unlock()
}

func main() {
	b := &bench{peak: map[string]float64{}, leaks: map[string][]string{}}
	repo := os.Getenv("REPO")
	if repo == "" {
		repo, _ = os.Getwd()
	}
	var rtList, doc string
	var skipRT, skipImg bool
	flag.BoolVar(&b.quick, "quick", os.Getenv("QUICK") == "1" || os.Getenv("BENCH_QUICK") == "1", "fewer iterations, smaller payload (QUICK=1)")
	flag.IntVar(&b.runs, "runs", 0, "iterations per runtime measurement (default 100, quick 15)")
	flag.StringVar(&b.out, "out", "", "directory for results.md/json (default WORK/../results)")
	flag.StringVar(&b.work, "work", "", "scratch directory (default /var/tmp/myrun-bench-PID)")
	flag.StringVar(&b.myrun, "myrun", filepath.Join(repo, "bin/myrun"), "myrun binary")
	flag.StringVar(&b.myimg, "myimg", filepath.Join(repo, "bin/myimg"), "myimg binary")
	flag.StringVar(&rtList, "runtimes", "myrun,runc,crun", "runtimes to compare")
	flag.BoolVar(&skipRT, "skip-runtime", false, "skip the runtime part")
	flag.BoolVar(&skipImg, "skip-images", false, "skip the image part")
	flag.BoolVar(&b.skipCounts, "skip-counts", false, "skip the strace and cachegrind counts")
	flag.StringVar(&doc, "update-doc", "", "rewrite the results section of this markdown file")
	mkBundle := flag.String("make-bundle", "", "only write a bundle (DIR/rootfs + DIR/config.json) for profiling, then exit")
	cgPath := flag.String("cgroups-path", "", "with -make-bundle: linux.cgroupsPath")
	mkPayload := flag.String("make-payload", "", "only write the image payload (-quick: small) into DIR, then exit")
	timeline := flag.Bool("timeline", false, "summarise `perf script` files of sched_process_* (args) and exit")
	flag.Parse()
	if *mkPayload != "" {
		mb, n := 200, 13000
		if b.quick {
			mb, n = 20, 1300
		}
		if err := genPayload(*mkPayload, mb, n); err != nil {
			fatal(err)
		}
		return
	}
	if *timeline {
		if err := printTimeline(flag.Args(), "/bin/true"); err != nil {
			fatal(err)
		}
		return
	}
	if *mkBundle != "" {
		if err := makeBundle(filepath.Join(repo, "contrib"), *mkBundle, *cgPath, flag.Args()); err != nil {
			fatal(err)
		}
		return
	}
	b.contrib = filepath.Join(repo, "contrib")
	b.runtimeNames = strings.Split(rtList, ",")
	b.warmup, b.workers, b.burst = 3, 8, 50
	b.countReps, b.instrReps = 3, 2
	b.burstRounds, b.imgRuns, b.payloadMB, b.payloadFiles = 3, 3, 200, 13000
	if b.quick {
		b.burstRounds, b.imgRuns, b.payloadMB, b.payloadFiles = 1, 1, 20, 1300
		b.burst = 24
		b.countReps, b.instrReps = 1, 1
	}
	if b.runs == 0 {
		b.runs = 100
		if b.quick {
			b.runs = 15
		}
	}
	b.cgParent = fmt.Sprintf("bench-%d", os.Getpid())
	if b.work == "" {
		b.work = fmt.Sprintf("/var/tmp/myrun-bench-%d", os.Getpid())
	}
	b.stateDir = fmt.Sprintf("/run/myrun-bench-%d", os.Getpid())
	if b.out == "" {
		b.out = filepath.Join(os.TempDir(), "myrun-bench-results")
	}
	if err := os.MkdirAll(b.work, 0o755); err != nil {
		fatal(err)
	}
	r, err := newReaper()
	if err != nil {
		fatal(err)
	}
	b.r = r

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sig
		fmt.Fprintln(os.Stderr, "bench: interrupted, cleaning up")
		b.teardown()
		os.Exit(130)
	}()

	start := time.Now()
	if !skipRT {
		if err := b.runtimeBench(); err != nil {
			fmt.Fprintf(os.Stderr, "bench: runtime part: %v\n", err)
		}
		b.cleanup()
	}
	if !skipImg {
		if err := b.imageBench(); err != nil {
			fmt.Fprintf(os.Stderr, "bench: image part: %v\n", err)
		}
	}
	b.teardown()
	if err := b.report(doc, time.Since(start)); err != nil {
		fatal(err)
	}
}

func (b *bench) teardown() {
	b.cleanup()
	for _, sp := range []*spawner{b.hostSp, b.crunSp} {
		if sp != nil {
			sp.close()
		}
	}
	b.imageCleanup()
	os.RemoveAll(b.work)
	unmountBelow(b.stateDir)
	os.RemoveAll(b.stateDir)
}

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "bench: %v\n", err)
	os.Exit(1)
}

// makeBundle writes the benchmark's bundle for profile.sh.
func makeBundle(contrib, dir, cgPath string, args []string) error {
	if len(args) == 0 {
		args = []string{"/bin/true"}
	}
	rootfs := filepath.Join(dir, "rootfs")
	if _, err := os.Stat(filepath.Join(rootfs, "bin", "busybox")); err != nil {
		c := exec.Command("/bin/sh", filepath.Join(contrib, "bundle", "busybox-rootfs.sh"), rootfs)
		c.Stderr = os.Stderr
		if err := c.Run(); err != nil {
			return fmt.Errorf("busybox rootfs: %w", err)
		}
	}
	return writeBundle(dir, benchSpec(rootfs, args), cgPath)
}
