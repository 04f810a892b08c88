package build

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// applied lists, per instruction type that buildkit's parser returns, the
// fields of the parsed instruction that the build applies. Any other field
// that is set, whether a flag we do not implement or one that a newer
// buildkit adds, fails the build with the flag and the line: nothing is
// parsed and then dropped.
var applied = map[reflect.Type]map[string]bool{
	typeOf[instructions.Stage](): set("Name", "Commands", "OrigCmd", "BaseName", "DocComment",
		"SourceCode", "Location", "Comments", "Platform"),
	typeOf[instructions.ArgCommand]():        set("Args"),
	typeOf[instructions.EnvCommand]():        set("Env"),
	typeOf[instructions.LabelCommand]():      set("Labels"),
	typeOf[instructions.MaintainerCommand](): set("Maintainer"),
	typeOf[instructions.WorkdirCommand]():    set("Path"),
	typeOf[instructions.UserCommand]():       set("User"),
	typeOf[instructions.ExposeCommand]():     set("Ports"),
	typeOf[instructions.VolumeCommand]():     set("Volumes"),
	typeOf[instructions.StopSignalCommand](): set("Signal"),
	typeOf[instructions.EntrypointCommand](): set("CmdLine", "Files", "PrependShell"),
	typeOf[instructions.CmdCommand]():        set("CmdLine", "Files", "PrependShell"),
	typeOf[instructions.ShellCommand]():      set("Shell"),
	// --interval, --timeout, --start-period, --start-interval, --retries
	// all land in Health, which is kept whole.
	typeOf[instructions.HealthCheckCommand](): set("Health"),
	typeOf[instructions.OnbuildCommand]():     set("Expression"),
	// RUN's own flags are in FlagsUsed, checked against runFlags.
	typeOf[instructions.RunCommand](): set("CmdLine", "Files", "PrependShell", "FlagsUsed"),
	typeOf[instructions.CopyCommand](): set("SourcePaths", "SourceContents", "DestPath", "From", "Chown",
		"Chmod", "ExcludePatterns", "Parents", "Link"),
	typeOf[instructions.AddCommand](): set("SourcePaths", "SourceContents", "DestPath", "Chown", "Chmod",
		"ExcludePatterns", "Checksum", "Unpack", "Link", "KeepGitDir"),
}

// runFlags are the RUN flags the build applies.
var runFlags = set("mount", "network", "security")

// flagOf names a field of a parsed instruction as the Containerfile
// spells it.
var flagOf = map[string]string{
	"Link": "--link", "Parents": "--parents", "KeepGitDir": "--keep-git-dir", "Platform": "--platform",
	"ExcludePatterns": "--exclude", "Checksum": "--checksum", "Unpack": "--unpack", "Chown": "--chown",
	"Chmod": "--chmod", "From": "--from",
}

func typeOf[T any]() reflect.Type { return reflect.TypeFor[T]() }

func set(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

// checkApplied refuses a parsed instruction that sets anything the build
// does not apply.
func checkApplied(cmd any) error {
	v := reflect.ValueOf(cmd)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	ok, known := applied[v.Type()]
	if !known {
		return fmt.Errorf("instruction not supported")
	}
	var bad []string
	walkFields(v, func(name string, f reflect.Value) {
		if !ok[name] && !f.IsZero() {
			if fl, has := flagOf[name]; has {
				bad = append(bad, fl)
			} else {
				bad = append(bad, "option "+name)
			}
		}
	})
	if rc, isRun := cmd.(*instructions.RunCommand); isRun {
		for _, fl := range rc.FlagsUsed {
			if !runFlags[fl] {
				bad = append(bad, "--"+fl)
			}
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s not supported by myimg build", strings.Join(bad, ", "))
	}
	return nil
}

// walkFields calls fn for each exported field of struct v, flattening
// embedded structs (SourcesAndDest, ShellDependantCmdLine).
func walkFields(v reflect.Value, fn func(string, reflect.Value)) {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		if sf.Anonymous && sf.Type.Kind() == reflect.Struct {
			walkFields(v.Field(i), fn)
			continue
		}
		fn(sf.Name, v.Field(i))
	}
}
