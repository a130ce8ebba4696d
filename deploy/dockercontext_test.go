package deploy

import (
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// dockerfileBuildEnv returns the `ENV k=v` settings of the Dockerfile's
// build stage (the first), which its build step runs under.
func dockerfileBuildEnv(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	stages := 0
	for l := range strings.SplitSeq(string(b), "\n") {
		switch {
		case strings.HasPrefix(l, "FROM "):
			stages++
		case stages == 1 && strings.HasPrefix(l, "ENV "):
			for _, kv := range strings.Fields(strings.TrimPrefix(l, "ENV ")) {
				if !strings.Contains(kv, "=") {
					t.Fatalf("Dockerfile: %q: write ENV as k=v", l)
				}
				env = append(env, kv)
			}
		}
	}
	return env
}

// dockerContext copies the build context root into a temporary directory,
// leaving out what root/.dockerignore excludes, as docker build sends it.
func dockerContext(t *testing.T, root string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var patterns []string
	for l := range strings.SplitSeq(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}
	reincludes := slices.ContainsFunc(patterns, func(p string) bool { return strings.HasPrefix(p, "!") })
	dst := t.TempDir()
	err = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if dockerIgnored(patterns, rel) {
			if d.IsDir() && !reincludes {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// dockerIgnored applies .dockerignore patterns to rel (slash-separated,
// relative to the context): the last pattern that matches rel or one of
// its parent directories decides; "!" patterns re-include; "**" matches
// any number of directories.
func dockerIgnored(patterns []string, rel string) bool {
	ignored := false
	for _, p := range patterns {
		keep := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(strings.TrimPrefix(p, "!"), "/")
		parts := strings.Split(rel, "/")
		for i := 1; i <= len(parts); i++ {
			if globMatch(strings.Split(p, "/"), parts[:i]) {
				ignored = !keep
				break
			}
		}
	}
	return ignored
}

// globMatch matches path segments against pattern segments.
func globMatch(pat, segs []string) bool {
	if len(pat) == 0 {
		return len(segs) == 0
	}
	if pat[0] == "**" {
		for i := 0; i <= len(segs); i++ {
			if globMatch(pat[1:], segs[i:]) {
				return true
			}
		}
		return false
	}
	if len(segs) == 0 {
		return false
	}
	ok, err := path.Match(pat[0], segs[0])
	return err == nil && ok && globMatch(pat[1:], segs[1:])
}

func TestDockerIgnored(t *testing.T) {
	patterns := []string{".git", "*.test", "deploy", "**/testdata/fuzz", "docs", "!docs/keep.md"}
	for rel, want := range map[string]bool{
		".git": true, ".git/HEAD": true, "x.test": true, "cmd/x.test": false,
		"deploy/compose.yaml": true, "internal/stream/testdata/fuzz/F/1": true, "internal/stream/testdata/x": false,
		"docs/a.md": true, "docs/keep.md": false, "go.mod": false, "cmd/gateway/main.go": false,
	} {
		if got := dockerIgnored(patterns, rel); got != want {
			t.Errorf("dockerIgnored(%q) = %v, want %v", rel, got, want)
		}
	}
}
