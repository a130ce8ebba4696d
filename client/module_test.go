package client

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// clientModuleDeps are all the modules a program that imports only this
// package has in its build list (go list -m all) besides its own.
var clientModuleDeps = []string{
	"github.com/alarmgate/alarmgate/client",
	"github.com/alarmgate/alarmgate/protocol",
	"github.com/coder/websocket",
}

// TestModuleDependencies builds a module that imports only this package
// (with replace directives to this checkout) and checks that its build
// list holds nothing but clientModuleDeps: none of the gateway's modules
// (Redis, Prometheus, the benchmarks' and browser tests' tools).
func TestModuleDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH")
	}
	clientDir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	protocolDir := filepath.Join(filepath.Dir(clientDir), "protocol")
	if _, err := os.Stat(filepath.Join(protocolDir, "go.mod")); err != nil {
		t.Skip("not in the repository: no ../protocol/go.mod")
	}
	dir := t.TempDir()
	gomod := fmt.Sprintf(`module example.com/user

go 1.26

require github.com/alarmgate/alarmgate/client v0.0.0-00010101000000-000000000000

replace (
	github.com/alarmgate/alarmgate/client => %q
	github.com/alarmgate/alarmgate/protocol => %q
)
`, clientDir, protocolDir)
	sum, err := os.ReadFile("go.sum") // the checksums of the client's requirements
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"go.mod":  gomod,
		"go.sum":  string(sum),
		"main.go": "package main\n\nimport _ \"github.com/alarmgate/alarmgate/client\"\n\nfunc main() {}\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(goBin, args...)
		cmd.Dir = dir
		// Offline: everything needed is in the module cache once this
		// package's tests were built.
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GOPROXY=off")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("mod", "tidy")
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(run("list", "-m", "all")), "\n") {
		path, _, _ := strings.Cut(l, " ")
		if path != "example.com/user" {
			got = append(got, path)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, clientModuleDeps) {
		t.Errorf("a program that imports only client has the modules\n\t%s\nwant\n\t%s",
			strings.Join(got, "\n\t"), strings.Join(clientModuleDeps, "\n\t"))
	}
}
