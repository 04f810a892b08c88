package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

const (
	docBegin = "<!-- bench:begin (written by contrib/bench/run.sh UPDATE_DOC=1) -->"
	docEnd   = "<!-- bench:end -->"
)

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			if i := strings.IndexByte(l, ':'); i > 0 {
				return strings.TrimSpace(l[i+1:])
			}
		}
	}
	return "unknown"
}

func kernel() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// version asks a tool for its version (first line).
func (b *bench) version(argv ...string) string {
	r := b.r.run(cmd{Argv: argv})
	s := strings.TrimSpace(r.Stdout + r.Stderr)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if r.Err != nil && s == "" {
		return "?"
	}
	return s
}

func (b *bench) header(elapsed time.Duration) string {
	var w bytes.Buffer
	fmt.Fprintf(&w, "Date: %s. Machine: %d CPUs (%s), kernel %s, load before report %s.\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.NumCPU(), cpuModel(), kernel(), loadavg())
	mode := "full"
	if b.quick {
		mode = "QUICK"
	}
	fmt.Fprintf(&w, "Mode: %s, %d interleaved iterations per runtime measurement (+%d warm-up), burst %d containers x %d workers x %d rounds, image runs %d, payload %d MB / %d files; wall time %.0fs.\n",
		mode, b.runs, b.warmup, b.burst, b.workers, b.burstRounds, b.imgRuns, b.payloadMB, b.payloadFiles, elapsed.Seconds())
	if b.floorKB > 0 {
		fmt.Fprintf(&w, "Commands are forked by a small C spawner (contrib/bench/spawner) so wait4's maxrss is the runtime's own (floor: /bin/true reads %d KB); CPU is user+sys of the command and the children it waited for (lifecycle and burst add the container inits).\n", b.floorKB)
	}
	var vs []string
	for _, rt := range b.rts {
		vs = append(vs, fmt.Sprintf("%s: %s", rt.Name, b.version(rt.Bin, "--version")))
	}
	if len(vs) > 0 {
		fmt.Fprintf(&w, "Versions: %s.\n", strings.Join(vs, "; "))
	}
	return w.String()
}

func (b *bench) tools() []string {
	var t []string
	for _, rt := range b.rts {
		t = append(t, rt.Name)
	}
	return t
}

func (b *bench) leakText() string {
	var w bytes.Buffer
	var names []string
	for n := range b.leaks {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		items := b.leaks[n]
		if len(items) > 8 {
			items = append(items[:8], fmt.Sprintf("... %d more", len(b.leaks[n])-8))
		}
		fmt.Fprintf(&w, "- leaks %s: %s\n", n, strings.Join(items, ", "))
	}
	for _, rt := range b.rts {
		if rt.Err != nil {
			fmt.Fprintf(&w, "- %s dropped after repeated failures: %v\n", rt.Name, rt.Err)
		}
	}
	for _, n := range b.notes {
		fmt.Fprintf(&w, "- %s\n", n)
	}
	for _, n := range b.imgNotes {
		fmt.Fprintf(&w, "- %s\n", n)
	}
	return w.String()
}

func (b *bench) markdown(head string) string {
	var w bytes.Buffer
	fmt.Fprintf(&w, "%s\n", head)
	if len(b.rt.rows) > 0 && b.hasCrun() {
		fmt.Fprintf(&w, "### Targets (issue 18: myrun's median against crun's, this run)\n\n")
		b.writeTargets(&w, true)
		fmt.Fprintln(&w)
	}
	if len(b.rt.rows) > 0 {
		fmt.Fprintf(&w, "### Runtime (ratios are to the fastest runtime in the row)\n\n")
		b.rt.writeWide(&w, b.tools(), true)
		fmt.Fprintln(&w)
	}
	if len(b.img.rows) > 0 {
		fmt.Fprintf(&w, "### Images\n\n")
		b.img.writeLong(&w, true)
		fmt.Fprintln(&w)
	}
	if l := b.leakText(); l != "" {
		fmt.Fprintf(&w, "Notes from this run:\n\n%s", l)
	}
	return w.String()
}

func (b *bench) report(doc string, elapsed time.Duration) error {
	head := b.header(elapsed)
	fmt.Println()
	fmt.Print(head)
	if len(b.rt.rows) > 0 {
		fmt.Println("\nRuntime: median (ratio to fastest)")
		b.rt.writeWide(os.Stdout, b.tools(), false)
		if b.hasCrun() {
			fmt.Println("\nTargets (issue 18), myrun against crun in this run:")
			b.writeTargets(os.Stdout, false)
		}
	}
	if len(b.img.rows) > 0 {
		fmt.Println("\nImages:")
		b.img.writeLong(os.Stdout, false)
	}
	if l := b.leakText(); l != "" {
		fmt.Print("\n" + l)
	}
	if err := os.MkdirAll(b.out, 0o755); err != nil {
		return err
	}
	md := b.markdown(head)
	if err := os.WriteFile(filepath.Join(b.out, "results.md"), []byte(md), 0o644); err != nil {
		return err
	}
	var tg []map[string]string
	if b.hasCrun() {
		for _, l := range b.targetLines() {
			tg = append(tg, map[string]string{"target": l[0], "limit": l[1], "measured": l[2], "status": l[3]})
		}
	}
	js, _ := json.MarshalIndent(map[string]any{"runtime": b.rt.rows, "images": b.img.rows, "leaks": b.leaks, "targets": tg}, "", " ")
	if err := os.WriteFile(filepath.Join(b.out, "results.json"), js, 0o644); err != nil {
		return err
	}
	fmt.Printf("\nresults: %s/results.md, results.json\n", b.out)
	if doc != "" {
		return updateDoc(doc, md)
	}
	return nil
}

func (b *bench) hasCrun() bool {
	for _, rt := range b.rts {
		if rt.Name == "crun" {
			return true
		}
	}
	return false
}

// updateDoc replaces the text between the bench markers of a markdown file.
func updateDoc(path, md string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(b)
	i, j := strings.Index(s, docBegin), strings.Index(s, docEnd)
	if i < 0 || j < i {
		return fmt.Errorf("%s: markers %q ... %q not found", path, docBegin, docEnd)
	}
	s = s[:i+len(docBegin)] + "\n" + md + s[j:]
	return os.WriteFile(path, []byte(s), 0o644)
}
