package build

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// stageRun is the state of one stage while its steps execute.
type stageRun struct {
	b      *builder
	def    *stageDef
	img    store.Image
	layers []ocispec.Descriptor
	key    digest.Digest
	args   map[string]string
	cmdSet bool
	n      int
	total  int
	// --layers=false: one workspace for the whole stage.
	squash *workspace
	// link: the current step is COPY/ADD --link (see lowerLayers).
	link bool
}

func (b *builder) runStage(sd *stageDef) (*stageResult, error) {
	r := &stageRun{b: b, def: sd, args: map[string]string{}, total: len(sd.steps) + 1}
	if err := r.from(); err != nil {
		return nil, &StepError{b.p.file, sd.line, "FROM", err}
	}
	// ONBUILD triggers of the base run first and are not inherited.
	triggers := r.img.Config.OnBuild
	r.img.Config.OnBuild = nil
	r.total += len(triggers)
	for _, t := range triggers {
		p, err := parseContainerfile(b.p.file, []byte("FROM scratch\n"+t+"\n"))
		if err != nil {
			return nil, &StepError{b.p.file, sd.line, "ONBUILD", err}
		}
		for _, st := range p.stages[0].steps {
			st.line = sd.line
			if err := r.step(st); err != nil {
				return nil, err
			}
		}
	}
	for _, st := range sd.steps {
		if err := r.step(st); err != nil {
			return nil, err
		}
	}
	if r.squash != nil {
		if err := r.commitSquash(); err != nil {
			return nil, err
		}
	}
	return &stageResult{img: r.img, layers: r.layers, key: r.key}, nil
}

func (r *stageRun) stepLine(text string) {
	b := r.b
	r.n++
	prefix := ""
	if b.multi {
		prefix = fmt.Sprintf("[%d/%d] ", b.stageNo, b.nstages)
	}
	b.printf("%sSTEP %d/%d: %s\n", prefix, r.n, r.total, text)
}

// env is the expansion environment: ARGs, overridden by ENV.
func (r *stageRun) env() []string {
	var out []string
	for k, v := range r.args {
		out = append(out, k+"="+v)
	}
	return append(out, r.img.Config.Env...)
}

// runEnv is the environment of RUN: ENV plus ARGs ENV does not set.
func (r *stageRun) runEnv() []string {
	out := slices.Clone(r.img.Config.Env)
	for k, v := range r.args {
		if !hasEnv(out, k) {
			out = append(out, k+"="+v)
		}
	}
	slices.Sort(out[len(r.img.Config.Env):])
	if !hasEnv(out, "PATH") {
		out = append(out, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	return out
}

func hasEnv(env []string, k string) bool {
	for _, e := range env {
		if strings.HasPrefix(e, k+"=") {
			return true
		}
	}
	return false
}

func setEnv(env []string, k, v string) []string {
	for i, e := range env {
		if strings.HasPrefix(e, k+"=") {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

func (r *stageRun) shell() []string {
	if len(r.img.Config.Shell) > 0 {
		return r.img.Config.Shell
	}
	return []string{"/bin/sh", "-c"}
}

// step runs one instruction.
func (r *stageRun) step(st step) error {
	r.stepLine(st.text)
	err := r.dispatch(st)
	if err != nil {
		if _, ok := err.(*StepError); ok {
			return err
		}
		return &StepError{r.b.p.file, st.line, st.name, err}
	}
	return nil
}

func (r *stageRun) expand(cmd any) error {
	e, ok := cmd.(instructions.SupportsSingleWordExpansion)
	if !ok {
		return nil
	}
	switch cmd.(type) {
	case *instructions.RunCommand, *instructions.ArgCommand:
		return nil // the shell expands RUN; declareArgs expands ARG
	}
	env := shell.EnvsFromSlice(r.env())
	if err := e.Expand(func(w string) (string, error) {
		s, _, err := r.b.lex.ProcessWord(w, env)
		return s, err
	}); err != nil {
		return err
	}
	// COPY/ADD <<EOF (unquoted): variables in the body expand, quotes
	// stay, as BuildKit does.
	if raw, ok := cmd.(instructions.SupportsSingleWordExpansionRaw); ok {
		lex := shell.NewLex('\\')
		lex.SkipProcessQuotes = true
		return raw.ExpandRaw(func(w string) (string, error) {
			s, _, err := lex.ProcessWord(w, env)
			return s, err
		})
	}
	return nil
}

// argStep declares ARG's names in the stage; their values (not just the
// names) key the cache: a different --build-arg must not reuse RUN
// results.
func (r *stageRun) argStep(st step, cmd *instructions.ArgCommand, nop string) error {
	if err := r.b.declareArgs(st, r.args, r.b.meta); err != nil {
		return err
	}
	var kv []string
	for _, a := range cmd.Args {
		if v, ok := r.args[a.Key]; ok {
			kv = append(kv, a.Key+"="+v)
		}
	}
	return r.configStep(nop, "ARG "+strings.Join(kv, " "))
}

// expose adds EXPOSE's ports (variables expanded, /tcp by default).
func (r *stageRun) expose(ports []string) error {
	c := &r.img.Config
	if c.ExposedPorts == nil {
		c.ExposedPorts = map[string]struct{}{}
	}
	for _, p := range ports {
		p, _, err := r.b.lex.ProcessWord(p, shell.EnvsFromSlice(r.env()))
		if err != nil {
			return err
		}
		if !strings.Contains(p, "/") {
			p += "/tcp"
		}
		c.ExposedPorts[p] = struct{}{}
	}
	return nil
}

// addVolumes adds VOLUME's paths to the config.
func addVolumes(c *store.Config, vols []string) error {
	if c.Volumes == nil {
		c.Volumes = map[string]struct{}{}
	}
	for _, v := range vols {
		if v == "" {
			return fmt.Errorf("VOLUME specified can not be an empty string")
		}
		c.Volumes[v] = struct{}{}
	}
	return nil
}

func (r *stageRun) dispatch(st step) error {
	if err := r.expand(st.cmd); err != nil {
		return err
	}
	c := &r.img.Config
	nop := "/bin/sh -c #(nop) " + st.text
	switch cmd := st.cmd.(type) {
	case *instructions.ArgCommand:
		return r.argStep(st, cmd, nop)
	case *instructions.EnvCommand:
		for _, kv := range cmd.Env {
			c.Env = setEnv(c.Env, kv.Key, kv.Value)
		}
	case *instructions.LabelCommand:
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		for _, kv := range cmd.Labels {
			c.Labels[kv.Key] = kv.Value
		}
	case *instructions.MaintainerCommand:
		r.img.Author = cmd.Maintainer
	case *instructions.WorkdirCommand:
		p := cmd.Path
		if !path.IsAbs(p) {
			p = path.Join("/", c.WorkingDir, p)
		}
		c.WorkingDir = path.Clean(p)
		return r.workdir(c.WorkingDir, c.User)
	case *instructions.UserCommand:
		c.User = cmd.User
	case *instructions.ExposeCommand:
		if err := r.expose(cmd.Ports); err != nil {
			return err
		}
	case *instructions.VolumeCommand:
		if err := addVolumes(c, cmd.Volumes); err != nil {
			return err
		}
	case *instructions.StopSignalCommand:
		c.StopSignal = cmd.Signal
	case *instructions.EntrypointCommand:
		c.Entrypoint = r.cmdline(cmd.ShellDependantCmdLine)
		if !r.cmdSet {
			c.Cmd = nil // an inherited CMD does not survive a new ENTRYPOINT
		}
	case *instructions.CmdCommand:
		c.Cmd = r.cmdline(cmd.ShellDependantCmdLine)
		r.cmdSet = true
	case *instructions.ShellCommand:
		c.Shell = slices.Clone(cmd.Shell)
	case *instructions.HealthCheckCommand:
		h := cmd.Health
		c.Healthcheck = &store.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout,
			StartPeriod: h.StartPeriod, StartInterval: h.StartInterval, Retries: h.Retries}
	case *instructions.OnbuildCommand:
		c.OnBuild = append(c.OnBuild, cmd.Expression)
	case *instructions.RunCommand:
		return r.run(st, cmd)
	case *instructions.CopyCommand:
		return r.copyStep(st, &copySpec{sd: cmd.SourcesAndDest, from: cmd.From, chown: cmd.Chown, chmod: cmd.Chmod, excludes: cmd.ExcludePatterns, parents: cmd.Parents, link: cmd.Link})
	case *instructions.AddCommand:
		return r.copyStep(st, &copySpec{sd: cmd.SourcesAndDest, chown: cmd.Chown, chmod: cmd.Chmod, add: true, checksum: cmd.Checksum, unpack: cmd.Unpack, excludes: cmd.ExcludePatterns, link: cmd.Link, keepGitDir: cmd.KeepGitDir})
	case *instructions.Stage:
		return fmt.Errorf("unexpected FROM")
	default:
		return fmt.Errorf("instruction not supported")
	}
	j, _ := json.Marshal(st.cmd)
	return r.configStep(nop, st.name+" "+string(j))
}

func (r *stageRun) cmdline(c instructions.ShellDependantCmdLine) []string {
	if c.PrependShell {
		return append(slices.Clone(r.shell()), strings.Join(c.CmdLine, " "))
	}
	return slices.Clone(c.CmdLine)
}

// configStep records a step that changes only the config.
func (r *stageRun) configStep(createdBy, keyText string) error {
	key := chainKey(r.key, keyText, "")
	h := ocispec.History{CreatedBy: createdBy, EmptyLayer: true}
	if rec, ok := r.b.lookup(key); ok {
		h.Created = rec.History.Created
	} else {
		h.Created = r.b.now()
		r.b.save(key, &cacheRecord{History: h})
	}
	r.img.History = append(r.img.History, h)
	r.key = key
	return nil
}

func (b *builder) now() *time.Time {
	if b.o.Timestamp != nil {
		t := *b.o.Timestamp
		return &t
	}
	t := time.Now().UTC().Truncate(time.Second)
	return &t
}

// declareArgs handles ARG: a --build-arg wins, then the default, then (in
// a stage) the value of the same ARG before FROM.
func (b *builder) declareArgs(st step, into, global map[string]string) error {
	cmd := st.cmd.(*instructions.ArgCommand)
	env := []string{}
	for k, v := range into {
		env = append(env, k+"="+v)
	}
	for _, a := range cmd.Args {
		if v, ok := b.o.BuildArgs[a.Key]; ok {
			into[a.Key] = v
			b.used[a.Key] = true
			continue
		}
		if a.Value != nil {
			v, _, err := b.lex.ProcessWord(*a.Value, shell.EnvsFromSlice(env))
			if err != nil {
				return &StepError{b.p.file, st.line, "ARG", err}
			}
			into[a.Key] = v
			continue
		}
		if global != nil {
			if v, ok := global[a.Key]; ok {
				into[a.Key] = v
			}
		}
	}
	return nil
}

// stepFroms lists the stages or images a step reads: COPY --from and
// RUN --mount from=.
func stepFroms(cmd any) []string {
	switch c := cmd.(type) {
	case *instructions.CopyCommand:
		if c.From != "" {
			return []string{c.From}
		}
	case *instructions.RunCommand:
		var out []string
		for _, m := range instructions.GetMounts(c) {
			if m.From != "" {
				out = append(out, m.From)
			}
		}
		return out
	}
	return nil
}
