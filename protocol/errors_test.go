package protocol

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// errorCodeConsts returns every constant of type ErrorCode declared in
// errors.go, by name, read from the source so that none can be missed.
func errorCodeConsts(t *testing.T) map[string]ErrorCode {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]ErrorCode{}
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "ErrorCode" {
				continue
			}
			for i, name := range vs.Names {
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Fatalf("%s: not a string literal", name.Name)
				}
				v, _ := strconv.Unquote(lit.Value)
				consts[name.Name] = ErrorCode(v)
			}
		}
	}
	return consts
}

// docErrorCodes returns the codes of the table in docs/protocol.md's
// "HTTP errors" section.
func docErrorCodes(t *testing.T) []ErrorCode {
	t.Helper()
	b, err := os.ReadFile("../docs/protocol.md")
	if errors.Is(err, fs.ErrNotExist) {
		t.Skip("docs/protocol.md is not beside this module (a copy outside the repository)")
	}
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## HTTP errors\n")
	if !ok {
		t.Fatal(`docs/protocol.md has no "## HTTP errors" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	row := regexp.MustCompile("(?m)^\\| [^|]+ \\| `([a-z0-9_]+)` \\|")
	var codes []ErrorCode
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		codes = append(codes, ErrorCode(m[1]))
	}
	if len(codes) == 0 {
		t.Fatal("docs/protocol.md: no codes in the HTTP errors table")
	}
	return codes
}

// TestErrorCodesDocumented: the table of docs/protocol.md and the
// ErrorCode constants list the same codes, each once.
func TestErrorCodesDocumented(t *testing.T) {
	consts := errorCodeConsts(t)
	documented := docErrorCodes(t)
	byValue := map[ErrorCode]string{}
	for name, c := range consts {
		if !strings.HasPrefix(name, "Code") {
			t.Errorf("constant %s: the name of an ErrorCode starts with Code", name)
		}
		if other, dup := byValue[c]; dup {
			t.Errorf("constants %s and %s are both %q", name, other, c)
		}
		byValue[c] = name
	}
	for i, c := range documented {
		if slices.Contains(documented[:i], c) {
			t.Errorf("docs/protocol.md lists %q twice", c)
		}
		if _, ok := byValue[c]; !ok {
			t.Errorf("docs/protocol.md lists %q, which is no ErrorCode constant", c)
		}
	}
	for c, name := range byValue {
		if !slices.Contains(documented, c) {
			t.Errorf("%s (%q) is missing from docs/protocol.md's HTTP errors table", name, c)
		}
	}
}

// TestErrorCodeConstants pins a few wire strings, and that the source
// scan sees the declared constants.
func TestErrorCodeConstants(t *testing.T) {
	consts := errorCodeConsts(t)
	for name, want := range map[string]ErrorCode{
		"CodeInvalidChannel":       CodeInvalidChannel,
		"CodeIdempotencyKeyReused": CodeIdempotencyKeyReused,
		"CodeBadRequest":           CodeBadRequest,
		"CodeForbidden":            CodeForbidden,
	} {
		if consts[name] != want {
			t.Errorf("source scan: %s = %q, want %q", name, consts[name], want)
		}
	}
	if CodeInvalidChannel != "invalid_channel" || CodeUnsupportedMediaType != "unsupported_media_type" {
		t.Error("wire strings changed")
	}
}
