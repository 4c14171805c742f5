package agent

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const module = "github.com/portier/portier/"

// serverPackages are the parts of the server the agent must never link:
// with them the agent would carry the server's records, its CA and its
// decision code, and share their types instead of the wire protocol's.
var serverPackages = []string{"store", "enrollment", "posture", "console", "identity", "proxy", "server", "ca",
	"policy", "assertion", "audit", "config", "cli", "apperr"}

// allowedInServer are the exceptions below serverPackages: posture/collect
// (the collectors, free of server code) is the agent's own.
var allowedInServer = []string{"posture/collect"}

// goList returns the packages a package of this module reaches when built
// for goos (test files excluded).
func goList(t *testing.T, goos, pkg string) []string {
	t.Helper()
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		if gobin, err = exec.LookPath("go"); err != nil {
			if os.Getenv("PORTIER_TEST_REQUIRE_ALL") == "1" {
				t.Fatal("the go command is needed to walk the import graph")
			}
			t.Skip("no go command to walk the import graph")
		}
	}
	cmd := exec.Command(gobin, "list", "-deps", "-f", "{{.ImportPath}}", pkg)
	cmd.Env = append(os.Environ(), "GOOS="+goos, "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s (GOOS=%s): %v\n%s", pkg, goos, err, stderr.String())
	}
	var deps []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		deps = append(deps, sc.Text())
	}
	return deps
}

// serverPackage reports whether an import path is part of the server.
func serverPackage(path string) bool {
	rel, ok := strings.CutPrefix(path, module)
	if !ok {
		return false
	}
	for _, a := range allowedInServer {
		if rel == a || strings.HasPrefix(rel, a+"/") {
			return false
		}
	}
	for _, s := range serverPackages {
		if rel == s || strings.HasPrefix(rel, s+"/") {
			return true
		}
	}
	return false
}

// TestAgentImportsNoServerCode walks the agent's import graph on every
// platform it ships for: no package of the server may be reachable. The
// agent and the server share only package agentwire.
func TestAgentImportsNoServerCode(t *testing.T) {
	for _, goos := range []string{"linux", "darwin", "windows"} {
		for _, dep := range goList(t, goos, module+"agent") {
			if serverPackage(dep) {
				t.Errorf("GOOS=%s: the agent reaches the server package %s; use the types of package agentwire", goos, dep)
			}
		}
	}
}

// TestWirePackageImportsOnlyTheStandardLibrary: agentwire is what both
// sides share; it may reach nothing of this module but the collectors'
// signal types.
func TestWirePackageImportsOnlyTheStandardLibrary(t *testing.T) {
	for _, dep := range goList(t, runtime.GOOS, module+"agentwire") {
		switch {
		case dep == module+"agentwire", dep == module+"posture/collect":
		case strings.Contains(strings.SplitN(dep, "/", 2)[0], "."):
			t.Errorf("agentwire reaches %s: it may import only the standard library and posture/collect", dep)
		}
	}
}
