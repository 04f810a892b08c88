// Command runtimetools runs the OCI runtime-tools validation programs against
// a runc-compatible runtime and prints one line per program. It is the engine
// of conformance/run-validation.sh; see conformance/README.md.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

type options struct {
	runtime     string
	cacheDir    string
	only        string
	minPass     int
	timeout     time.Duration
	relative    bool
	runtimeRoot string
	version     string
	prebuilt    bool // use the built suite in cacheDir as is (no go command)
	buildOnly   bool // build the suite and exit (no runtime needed)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// parseTimeout accepts a Go duration or plain seconds.
func parseTimeout(s string) (time.Duration, error) {
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(s)
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("runtimetools", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.cacheDir, "cache", envOr("CONFORMANCE_CACHE", ".cache/conformance"), "build cache and logs (env CONFORMANCE_CACHE)")
	fs.StringVar(&o.only, "only", os.Getenv("ONLY"), "space/comma separated programs to run (env ONLY)")
	minPass := fs.String("min-pass", envOr("MIN_PASS", "0"), "fail unless at least this many pass (env MIN_PASS)")
	timeout := fs.String("timeout", envOr("TIMEOUT", "60"), "per-program timeout, seconds or duration (env TIMEOUT)")
	fs.BoolVar(&o.relative, "relative-cgroups", os.Getenv("RELATIVE_CGROUPS") == "1", "also run linux_cgroups_relative_* (env RELATIVE_CGROUPS=1)")
	fs.StringVar(&o.runtimeRoot, "runtime-root", os.Getenv("RUNTIME_ROOT"), "runtime's default state dir (env RUNTIME_ROOT; default /run/<binary name>)")
	fs.StringVar(&o.version, "version", envOr("RUNTIME_TOOLS_VERSION", runtimeToolsVersion), "runtime-tools module version (env RUNTIME_TOOLS_VERSION)")
	fs.BoolVar(&o.prebuilt, "prebuilt", os.Getenv("RUNTIME_TOOLS_PREBUILT") == "1", "use the suite already built in -cache, without go (env RUNTIME_TOOLS_PREBUILT=1)")
	fs.BoolVar(&o.buildOnly, "build-only", false, "build the suite in -cache and exit")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: runtimetools [flags] RUNTIME_BINARY | runtimetools -build-only [-cache DIR]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.buildOnly && o.prebuilt {
		return o, fmt.Errorf("-build-only and -prebuilt exclude each other")
	}
	if o.buildOnly && fs.NArg() == 0 {
		return o, nil
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return o, fmt.Errorf("need exactly one runtime binary")
	}
	var err error
	if o.minPass, err = strconv.Atoi(*minPass); err != nil || o.minPass < 0 {
		return o, fmt.Errorf("MIN_PASS: want a number >= 0, got %q", *minPass)
	}
	if o.timeout, err = parseTimeout(*timeout); err != nil || o.timeout <= 0 {
		return o, fmt.Errorf("TIMEOUT: want seconds or a duration, got %q", *timeout)
	}
	// The tests exec RUNTIME from their own cwd: it must be absolute.
	rt, err := exec.LookPath(fs.Arg(0))
	if err != nil {
		return o, err
	}
	if o.runtime, err = filepath.Abs(rt); err != nil {
		return o, err
	}
	return o, nil
}

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

// realMain returns 0 when enough programs passed, 1 when too few did, 2 on
// usage or setup errors.
func realMain(args []string, stdout, stderr io.Writer) int {
	o, err := parseOptions(args, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "runtimetools:", err)
		return 2
	}
	if o.buildOnly {
		s, err := ensureSuite(o.cacheDir, o.version, stderr)
		if err != nil {
			fmt.Fprintln(stderr, "runtimetools: build:", err)
			return 2
		}
		fmt.Fprintln(stdout, filepath.Dir(s.BinDir))
		return 0
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(stderr, "runtimetools: the validation programs must run as root")
		return 2
	}
	find := ensureSuite
	if o.prebuilt {
		find = prebuiltSuite
	}
	s, err := find(o.cacheDir, o.version, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "runtimetools: build:", err)
		return 2
	}
	all, err := listPrograms(s.SrcDir)
	if err != nil {
		fmt.Fprintln(stderr, "runtimetools:", err)
		return 2
	}
	plan, err := selectPrograms(all, o.only, o.relative)
	if err != nil {
		fmt.Fprintln(stderr, "runtimetools:", err)
		return 2
	}
	logDir, err := filepath.Abs(filepath.Join(o.cacheDir, "logs", filepath.Base(o.runtime)))
	if err == nil {
		err = os.MkdirAll(logDir, 0o755)
	}
	if err != nil {
		fmt.Fprintln(stderr, "runtimetools:", err)
		return 2
	}
	rp, err := startReaper()
	if err != nil {
		fmt.Fprintln(stderr, "runtimetools: subreaper:", err)
		return 2
	}
	defer rp.close()

	r := &runner{
		suite:   s,
		runtime: o.runtime,
		ctl:     runtimeCtl{path: o.runtime, root: defaultRoot(o.runtime, o.runtimeRoot), reaper: rp},
		timeout: o.timeout,
		logDir:  logDir,
		reaper:  rp,
		cgRoots: selfCgroupRoots(),
		warn:    func(f string, a ...any) { fmt.Fprintf(stderr, f+"\n", a...) },
	}
	start := time.Now()
	passed, failed := 0, 0
	// Per-program durations help keep CI inside its time budget.
	timings, err := os.Create(filepath.Join(logDir, "timings.txt"))
	if err != nil {
		fmt.Fprintln(stderr, "runtimetools:", err)
		return 2
	}
	defer timings.Close()
	for _, p := range plan {
		if p.Skip != "" {
			fmt.Fprintf(stdout, "SKIP %s: %s\n", p.Name, p.Skip)
			continue
		}
		res := r.run(p.Name)
		for n := 2; res.Reason != "" && n <= attempts(p.Name); n++ {
			fmt.Fprintf(stderr, "retry %s (racy: %s): attempt %d failed: %s\n", p.Name, racy[p.Name], n-1, res.Reason)
			res = r.run(p.Name)
		}
		fmt.Fprintf(timings, "%6.1fs %s\n", res.Took.Seconds(), res.Name)
		if res.Reason == "" {
			passed++
			fmt.Fprintf(stdout, "ok   %s\n", res.Name)
		} else {
			failed++
			fmt.Fprintf(stdout, "FAIL %s: %s\n", res.Name, res.Reason)
		}
	}
	fmt.Fprintf(stdout, "validation: %d passed, %d failed\n", passed, failed)
	if _, err := os.Stat(r.ctl.root); err != nil {
		// A wrong guess means leftover containers went unnoticed.
		fmt.Fprintf(stderr, "validation: warning: state dir %s not found; set RUNTIME_ROOT to the runtime's default --root\n", r.ctl.root)
	}
	fmt.Fprintf(stderr, "validation: took %s; TAP logs in %s\n", time.Since(start).Round(time.Second), logDir)
	if passed < o.minPass {
		fmt.Fprintf(stderr, "validation: %d passed, below MIN_PASS=%d\n", passed, o.minPass)
		return 1
	}
	return 0
}
