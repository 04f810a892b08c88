package build

import (
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/myrun-org/myrun/imgtool/store"
)

// FuzzContainerfile parses arbitrary Containerfiles into our instructions
// and runs everything that needs no container or file copy: ARG scoping,
// stage dependencies and the config-only instructions with variable
// expansion. Properties: no panic, errors carry file:line, stage
// references resolve only to earlier stages.
func FuzzContainerfile(f *testing.F) {
	for _, s := range []string{
		"FROM scratch\nCOPY a /b\n",
		"ARG BASE=busybox\nFROM $BASE AS one\nENV A=1 B=\"two words\"\nLABEL x=y\nWORKDIR rel\nWORKDIR /abs/../x\nUSER 1000:1000\nEXPOSE 80 53/udp $A\nVOLUME /data\nSTOPSIGNAL TERM\nENTRYPOINT [\"sh\"]\nCMD echo hi\nSHELL [\"/bin/bash\",\"-c\"]\nHEALTHCHECK --interval=5s CMD true\nONBUILD RUN x\nFROM one\nCOPY --from=one /a /b\nRUN echo ${A:-x} ${B:+y}\n",
		"# escape=`\nFROM scratch\nENV A=`\n  b\n",
		"FROM a\nCOPY --from=0 / /\nFROM b AS 0\nCOPY --from=1 / /\n",
		"RUN x\n",
		"FROM\n",
		"FROM scratch\nENV A=${B:?missing}\n",
		"FROM scratch\nARG A\nARG B=$A\nLABEL l=$B\nEXPOSE ${X:-80}/tcp\n",
		"FROM scratch\nVOLUME [\"\"]\n",
		"FROM scratch\nMAINTAINER me\nUNKNOWN x\n",
		"FROM scratch\nRUN <<EOF\necho hi\nEOF\n",
	} {
		f.Add(s)
	}
	s, err := store.Open(filepath.Join(f.TempDir(), "store"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if len(text) > 8192 {
			return
		}
		p, err := parseContainerfile("Containerfile", []byte(text))
		if err != nil {
			var se *StepError
			if errors.As(err, &se) && se.Line < 0 {
				t.Fatalf("negative line: %v", err)
			}
			if !strings.HasPrefix(err.Error(), "Containerfile") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if len(p.stages) == 0 {
			t.Fatal("parsed without a stage")
		}
		lines := strings.Count(text, "\n") + 1
		for i, sd := range p.stages {
			if sd.index != i {
				t.Fatalf("stage %d has index %d", i, sd.index)
			}
			if sd.line < 1 || sd.line > lines {
				t.Fatalf("stage %d at line %d of %d", i, sd.line, lines)
			}
			if sd.from.Name != "" {
				if got, ok := p.findStage(sd.from.Name, i); ok && got.index >= i {
					t.Fatalf("stage %d refers forward to %d", i, got.index)
				}
			}
			for _, st := range sd.steps {
				if st.line < 1 || st.line > lines {
					t.Fatalf("step %q at line %d of %d", st.text, st.line, lines)
				}
			}
		}
		b := &builder{s: s, o: Options{Out: io.Discard, NoCache: true}, p: p, lex: shell.NewLex(p.escape),
			meta: map[string]string{}, used: map[string]bool{}, results: map[int]*stageResult{}}
		if err := b.metaArgs(); err != nil {
			return
		}
		need, err := b.neededStages(len(p.stages) - 1)
		if err != nil {
			return
		}
		for i, n := range need {
			if i > 0 && need[i-1] >= n {
				t.Fatalf("stages not in file order: %v", need)
			}
		}
		for _, sd := range p.stages {
			r := &stageRun{b: b, def: sd, args: map[string]string{}, total: len(sd.steps) + 1}
			for _, st := range sd.steps {
				switch st.cmd.(type) {
				case *instructions.RunCommand, *instructions.CopyCommand, *instructions.AddCommand:
					continue // need a container or the file system
				}
				if err := r.step(st); err != nil {
					var se *StepError
					if !errors.As(err, &se) || se.Line != st.line {
						t.Fatalf("step error without its line: %v", err)
					}
					break
				}
			}
			c := r.img.Config
			if c.WorkingDir != "" && !strings.HasPrefix(c.WorkingDir, "/") {
				t.Fatalf("WORKDIR gave relative %q", c.WorkingDir)
			}
			for port := range c.ExposedPorts {
				if !strings.Contains(port, "/") {
					t.Fatalf("exposed port %q without protocol", port)
				}
			}
		}
	})
}
