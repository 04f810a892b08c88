// Command funclen fails when a non-test Go function in the given
// directories is longer than -max lines (from its func line to its closing
// brace, both counted). `make lint` runs it over libcontainer/, runtime/ and
// imgtool/ (issue 19: long functions are where loose state hides).
//
//	go run ./contrib/funclen [-max 80] [-list] DIR...
package main

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

type long struct {
	pos   string
	name  string
	lines int
}

func main() {
	limit := flag.Int("max", 80, "longest function allowed, in lines")
	list := flag.Bool("list", false, "print every function over -max and exit 0")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: funclen [-max N] [-list] DIR...")
		os.Exit(2)
	}
	var found []long
	for _, dir := range flag.Args() {
		l, err := scan(dir, *limit)
		if err != nil {
			fmt.Fprintln(os.Stderr, "funclen:", err)
			os.Exit(2)
		}
		found = append(found, l...)
	}
	sort.Slice(found, func(i, j int) bool { return found[i].lines > found[j].lines })
	for _, f := range found {
		fmt.Printf("%s: %s is %d lines (max %d)\n", f.pos, f.name, f.lines, *limit)
	}
	if len(found) > 0 && !*list {
		fmt.Printf("funclen: %d functions over %d lines: split them into steps\n", len(found), *limit)
		os.Exit(1)
	}
}

// scan walks dir for non-test .go files (all build tags) and returns the
// functions and methods longer than limit lines.
func scan(dir string, limit int) ([]long, error) {
	var found []long
	fset := token.NewFileSet()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != dir && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			start := fset.Position(fn.Pos())
			n := fset.Position(fn.End()).Line - start.Line + 1
			if n > limit {
				found = append(found, long{fmt.Sprintf("%s:%d", path, start.Line), funcName(fn), n})
			}
		}
		return nil
	})
	return found, err
}

func funcName(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return fn.Name.Name
	}
	t := fn.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	if ix, ok := t.(*ast.IndexExpr); ok {
		t = ix.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name + "." + fn.Name.Name
	}
	return fn.Name.Name
}
