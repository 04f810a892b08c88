package build

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// step is one instruction with where it came from.
type step struct {
	cmd  any // *instructions.XxxCommand
	name string
	line int
	text string
}

// stageDef is a FROM and the steps after it.
type stageDef struct {
	from  *instructions.Stage
	line  int
	index int
	steps []step
}

type parsed struct {
	file   string
	meta   []step // ARGs before the first FROM
	stages []*stageDef
	escape rune
	// warnings: the parser's own, and directives read but not acted on.
	warnings []string
}

// StepError is an error tied to an instruction of a Containerfile.
type StepError struct {
	File  string
	Line  int
	Instr string
	Err   error
}

func (e *StepError) Error() string {
	return fmt.Sprintf("%s:%d: %s: %v", e.File, e.Line, e.Instr, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }

func parseContainerfile(file string, data []byte) (*parsed, error) {
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	p := &parsed{file: file, escape: res.EscapeToken}
	for _, w := range res.Warnings {
		p.warnings = append(p.warnings, fmt.Sprintf("%s: %s", file, w.Short))
	}
	// escape= is applied (EscapeToken); these two are only read.
	if v, _, loc, ok := parser.DetectSyntax(data); ok {
		p.warnings = append(p.warnings, fmt.Sprintf("%s:%d: # syntax=%s: frontend images are not run; myimg reads the file with its built-in parser (BuildKit's Dockerfile syntax)", file, lineOf(loc), v))
	}
	if v, _, loc, ok := parser.ParseDirective("check", data); ok {
		p.warnings = append(p.warnings, fmt.Sprintf("%s:%d: # check=%s: BuildKit's build checks are not run", file, lineOf(loc), v))
	}
	var cur *stageDef
	for _, n := range res.AST.Children {
		instr := strings.ToUpper(n.Value)
		v, err := instructions.ParseInstruction(n)
		if err != nil {
			return nil, &StepError{file, n.StartLine, instr, stripLocation(err)}
		}
		if err := checkApplied(v); err != nil {
			return nil, &StepError{file, n.StartLine, instr, err}
		}
		st := step{cmd: v, name: instr, line: n.StartLine, text: strings.TrimSpace(n.Original)}
		switch c := v.(type) {
		case *instructions.Stage:
			cur = &stageDef{from: c, line: n.StartLine, index: len(p.stages)}
			p.stages = append(p.stages, cur)
		case *instructions.ArgCommand:
			if cur == nil {
				p.meta = append(p.meta, st)
			} else {
				cur.steps = append(cur.steps, st)
			}
		default:
			if cur == nil {
				return nil, &StepError{file, n.StartLine, instr, fmt.Errorf("only ARG may come before the first FROM")}
			}
			cur.steps = append(cur.steps, st)
		}
	}
	if len(p.stages) == 0 {
		return nil, fmt.Errorf("%s: no FROM instruction", file)
	}
	return p, nil
}

func lineOf(loc []parser.Range) int {
	if len(loc) == 0 {
		return 1
	}
	return loc[0].Start.Line
}

// stripLocation drops buildkit's own location wrapper: we print file:line.
func stripLocation(err error) error {
	msg := err.Error()
	return fmt.Errorf("%s", msg)
}

// findStage resolves a stage reference (name or index) among the first n stages.
func (p *parsed) findStage(ref string, n int) (*stageDef, bool) {
	for _, s := range p.stages[:n] {
		if s.from.Name != "" && strings.EqualFold(s.from.Name, ref) {
			return s, true
		}
	}
	if i, err := strconv.Atoi(ref); err == nil && i >= 0 && i < n {
		return p.stages[i], true
	}
	return nil, false
}
