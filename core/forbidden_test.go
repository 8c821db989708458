//go:build !js

package core_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The core must stay deterministic and portable (DESIGN.md, principle 3): no
// platform, network, UI or disk packages, no wall clock, no global random
// source, no goroutines. Tests may do what they like.

// forbiddenImport reports why a core package may not import path.
func forbiddenImport(path string, dir string) string {
	switch {
	case path == "syscall/js" || strings.HasPrefix(path, "syscall/js/"):
		return "platform code belongs in wasm/"
	case path == "net" || strings.HasPrefix(path, "net/"):
		return "the network belongs in p2p/ or the node"
	case strings.HasPrefix(path, "github.com/pion/"):
		return "WebRTC belongs in p2p/"
	case strings.HasPrefix(path, "github.com/maxence-charriere/go-app"):
		return "UI belongs in ui/"
	case path == "math/rand":
		return "use a seeded math/rand/v2 source"
	case (path == "os" || path == "io/ioutil") && !isFileBackend(dir):
		return "only the file storage backend touches the disk"
	}
	return ""
}

func isFileBackend(dir string) bool {
	return filepath.ToSlash(dir) == "storage/filestore" || strings.HasSuffix(filepath.ToSlash(dir), "/storage/filestore")
}

// forbiddenCalls are package-level functions that read the wall clock, use a
// global random source or start timers.
var forbiddenCalls = map[string]map[string]bool{
	"time": {"Now": true, "Since": true, "Until": true, "Sleep": true, "After": true, "AfterFunc": true,
		"Tick": true, "NewTimer": true, "NewTicker": true},
}

// allowedRandV2 are the math/rand/v2 functions that do not touch the global
// source.
var allowedRandV2 = map[string]bool{"New": true, "NewPCG": true, "NewChaCha8": true, "NewZipf": true}

// checkFile returns the violations in one source file.
func checkFile(fset *token.FileSet, f *ast.File, dir string) []string {
	var out []string
	names := map[string]string{} // local name -> import path
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		if why := forbiddenImport(path, dir); why != "" {
			out = append(out, fset.Position(imp.Pos()).String()+": imports "+path+": "+why)
		}
		local := path[strings.LastIndex(path, "/")+1:]
		if path == "math/rand/v2" {
			local = "rand"
		}
		if imp.Name != nil {
			local = imp.Name.Name
		}
		names[local] = path
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt:
			out = append(out, fset.Position(n.Pos()).String()+": starts a goroutine")
		case *ast.SelectorExpr:
			id, ok := n.X.(*ast.Ident)
			if !ok || id.Obj != nil {
				return true
			}
			switch path := names[id.Name]; {
			case forbiddenCalls[path][n.Sel.Name]:
				out = append(out, fset.Position(n.Pos()).String()+": uses "+path+"."+n.Sel.Name)
			case path == "math/rand/v2" && !allowedRandV2[n.Sel.Name] && ast.IsExported(n.Sel.Name) && n.Sel.Name != "Rand" && n.Sel.Name != "Source":
				out = append(out, fset.Position(n.Pos()).String()+": uses the global source rand."+n.Sel.Name)
			}
		}
		return true
	})
	return out
}

func TestForbiddenImports(t *testing.T) {
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		if strings.Contains(path, "storagetest") {
			return nil // the conformance suite is test support code
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		for _, v := range checkFile(fset, f, filepath.Dir(path)) {
			t.Error(v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestForbiddenDependencies checks what the core pulls in transitively, so a
// library cannot smuggle the network or the DOM into the wasm build.
func TestForbiddenDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-json=ImportPath,Deps", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	checked := 0
	for dec.More() {
		var p struct {
			ImportPath string
			Deps       []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(p.ImportPath, "/filestore") || strings.HasSuffix(p.ImportPath, "/storagetest") {
			continue
		}
		checked++
		for _, dep := range p.Deps {
			if dep == "os" || dep == "math/rand" {
				continue // the standard library uses them internally (fmt, reflect)
			}
			if why := forbiddenImport(dep, ""); why != "" {
				t.Errorf("%s depends on %s: %s", p.ImportPath, dep, why)
			}
		}
	}
	if checked < 5 {
		t.Fatalf("checked only %d core packages", checked)
	}
}

// TestForbiddenCheckerFails is the negative control: the checker must catch
// each kind of violation.
func TestForbiddenCheckerFails(t *testing.T) {
	src := `package bad
import (
	"math/rand"
	r2 "math/rand/v2"
	"net"
	"os"
	"syscall/js"
	"time"
)
func f() {
	go f()
	_ = time.Now()
	_ = r2.IntN(3)
	_ = r2.New(r2.NewPCG(1, 2)) // allowed
	_, _, _, _ = rand.Int, net.Dial, os.Open, js.Global
}`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "bad.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(checkFile(fset, f, "broker"), "\n")
	for _, want := range []string{"imports math/rand", "imports net", "imports os", "imports syscall/js",
		"starts a goroutine", "uses time.Now", "global source rand.IntN"} {
		if !strings.Contains(got, want) {
			t.Errorf("checker missed %q; it reported:\n%s", want, got)
		}
	}
	if strings.Contains(got, "rand.New") {
		t.Errorf("checker flagged an allowed seeded source:\n%s", got)
	}
	if v := checkFile(fset, f, "storage/filestore"); strings.Contains(strings.Join(v, "\n"), "imports os") {
		t.Error("the file backend may import os")
	}
	_ = os.Getenv
}
