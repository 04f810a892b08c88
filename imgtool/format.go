package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/tabwriter"
	"text/template"

	"github.com/urfave/cli/v3"
)

// --format as podman reads it: "json" for a JSON array, a Go template
// applied to each row (one line each), or "table TEMPLATE" for the same
// with a header line and aligned columns. headers names the fields'
// column titles; a field without one is titled by its name in capitals.
// No rows print as [] in JSON, as podman's.
func writeFormatted[T, J any](w io.Writer, format string, rows []T, jsonRows []J, headers map[string]string) error {
	if format == "json" {
		if jsonRows == nil {
			jsonRows = []J{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "    ")
		return enc.Encode(jsonRows)
	}
	table := false
	if rest, ok := strings.CutPrefix(format, "table"); ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
		table, format = true, strings.TrimSpace(rest)
		if format == "" {
			return fmt.Errorf("--format table: a template must follow, e.g. 'table {{.ID}}'")
		}
	}
	// podman's templates take \t and \n literally typed as escapes.
	format = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(format)
	tmpl, err := template.New("format").Funcs(template.FuncMap{
		"json":  func(v any) (string, error) { b, err := json.Marshal(v); return string(b), err },
		"upper": strings.ToUpper, "lower": strings.ToLower, "join": strings.Join,
	}).Option("missingkey=error").Parse(format)
	if err != nil {
		return fmt.Errorf("--format: %w", err)
	}
	out := w
	var tw *tabwriter.Writer
	if table {
		tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		out = tw
		fmt.Fprintln(tw, headerOf(format, headers))
	}
	for _, r := range rows {
		var b bytes.Buffer
		if err := tmpl.Execute(&b, r); err != nil {
			return fmt.Errorf("--format: %w", err)
		}
		line := b.String()
		if !strings.HasSuffix(line, "\n") {
			line += "\n"
		}
		io.WriteString(out, line)
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}

// listFormat returns --format, refused beside any of the boolean flags
// named (--quiet, --json), which pick another output.
func listFormat(cmd *cli.Command, others ...string) (string, error) {
	f := cmd.String("format")
	if f == "" {
		return "", nil
	}
	for _, o := range others {
		if cmd.Bool(o) {
			return "", fmt.Errorf("--format and --%s do not go together", strings.Join(others, "/--"))
		}
	}
	return f, nil
}

var fieldRef = regexp.MustCompile(`{{\s*\.(\w+)\s*}}`)

func headerOf(format string, headers map[string]string) string {
	return fieldRef.ReplaceAllStringFunc(format, func(m string) string {
		name := fieldRef.FindStringSubmatch(m)[1]
		if h, ok := headers[name]; ok {
			return h
		}
		return strings.ToUpper(name)
	})
}
