package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// tapResult is what we need from one program's TAP stream to judge it.
type tapResult struct {
	Planned   int    // -1 when no plan line was seen
	Points    int    // number of ok/not ok lines
	FirstFail string // first failing test point (with its diagnostic error), "" if none
	BailOut   string // "Bail out!" line, "" if none
	// Stray holds the first diagnostic printed outside any test point: the
	// *_fail programs report their failure only that way (plan 1..0).
	Stray string
	// Empty: no output at all. Only the *_fail programs that expect the
	// runtime to reject a config pass that way (silentOK); for the others an
	// empty stream means the container's runtimetest output went missing.
	Empty bool
}

var (
	planRE  = regexp.MustCompile(`^1\.\.(\d+)`)
	pointRE = regexp.MustCompile(`^(not ok|ok)\b(.*)$`)
)

// parseTAP reads a TAP 13 stream as tap-go writes it: test points, indented
// YAML (JSON) blocks after them, a plan first or last.
func parseTAP(out string) tapResult {
	r := tapResult{Planned: -1, Empty: strings.TrimSpace(out) == ""}
	lines := strings.Split(out, "\n")
	failIdx := -1 // index of the failing point whose diagnostic we still want
	for i := 0; i < len(lines); i++ {
		line := strings.TrimRight(lines[i], "\r")
		if strings.TrimSpace(line) == "---" {
			end := i + 1
			for end < len(lines) && strings.TrimSpace(lines[end]) != "..." {
				end++
			}
			block := lines[i+1 : min(end, len(lines))]
			switch {
			case failIdx >= 0 && failIdx == r.Points:
				if e := diagError(block); e != "" {
					r.FirstFail += " [" + e + "]"
				}
				failIdx = -1
			case r.Points == 0 && r.Stray == "":
				r.Stray = diagError(block)
				if r.Stray == "" {
					r.Stray = "diagnostic: " + firstNonEmpty(block)
				}
			}
			i = end
			continue
		}
		if m := planRE.FindStringSubmatch(line); m != nil && r.Planned < 0 {
			r.Planned, _ = strconv.Atoi(m[1])
			continue
		}
		if strings.HasPrefix(line, "Bail out!") {
			if r.BailOut == "" {
				r.BailOut = line
			}
			continue
		}
		m := pointRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		r.Points++
		if m[1] == "not ok" && !isTodo(m[2]) && r.FirstFail == "" {
			r.FirstFail = line
			failIdx = r.Points
		}
	}
	return r
}

// silentOK reports whether a program passes by printing nothing: the
// util.RuntimeInsideValidate(g, nil, nil) "_fail" programs exit 0 silently when
// the runtime rejects their config and call util.Fatal otherwise.
func silentOK(name string) bool { return strings.HasSuffix(name, "_fail") }

// isTodo reports whether a failing point is marked "# TODO" (not a failure in TAP).
func isTodo(rest string) bool {
	i := strings.Index(rest, "#")
	return i >= 0 && strings.HasPrefix(strings.ToUpper(strings.TrimSpace(rest[i+1:])), "TODO")
}

// diagError returns the first line of the "error" field of a diagnostic block.
func diagError(block []string) string {
	var m map[string]any
	if err := json.Unmarshal([]byte(strings.Join(block, "\n")), &m); err != nil {
		return ""
	}
	e, ok := m["error"].(string)
	if !ok {
		return ""
	}
	return truncate(strings.SplitN(strings.TrimSpace(e), "\n", 2)[0], 160)
}

func firstNonEmpty(block []string) string {
	for _, l := range block {
		if s := strings.TrimSpace(l); s != "" && s != "{" {
			return truncate(s, 160)
		}
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// verdict turns a program's exit and TAP stream into "" (pass) or a reason.
func verdict(r tapResult, exitErr error, timedOut bool, timeoutDesc, stderrSum string, silentOK bool) string {
	switch {
	case timedOut:
		return "timed out after " + timeoutDesc
	case r.BailOut != "":
		return r.BailOut
	case r.FirstFail != "":
		return r.FirstFail
	case exitErr != nil:
		return withTail(exitErr.Error(), stderrSum)
	case r.Empty && silentOK:
		return ""
	case r.Empty:
		return withTail("no output", stderrSum)
	case r.Planned < 0:
		return withTail("no TAP plan line", stderrSum)
	case r.Planned != r.Points:
		return fmt.Sprintf("planned %d tests, ran %d", r.Planned, r.Points)
	case r.Points == 0 && r.Stray != "":
		return r.Stray
	}
	return ""
}

func withTail(msg, tail string) string {
	if tail == "" {
		return msg
	}
	return msg + ": " + truncate(tail, 240)
}

// lastLine returns the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// stderrSummary picks the informative part of a program's stderr: util.Fatal
// prints the message then "Refer to: <spec url>"; failed lifecycle steps
// print "failed to create the container" then the runtime's error.
func stderrSummary(s string) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "Refer to:") {
			lines = append(lines, l)
		}
	}
	switch {
	case len(lines) == 0:
		return ""
	case len(lines) > 1 && strings.HasPrefix(lines[0], "failed to "):
		return lines[0] + ": " + lines[1]
	}
	return lines[0]
}
