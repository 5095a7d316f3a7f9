package tenants_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/internal/httpserver"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// The surfaces make a tenants.Origin from their request by conversion
// (docs/ARCHITECTURE.md, "Audit events"): this stops compiling when the
// two types drift apart.
var _ = tenants.Origin(httpserver.Origin{})

// TestTenantsKnowNoHTTP: the domain takes values, not requests
// (docs/ARCHITECTURE.md, "Dependencies"): no file of tenants,
// tenants/authz or tenants/viewer, tests aside, imports net/http or
// internal/httpserver. (ent pulls net/http in through gqlgen, and
// internal/safehttp checks a jwks_uri at save time: neither is tenants
// handling a request.)
func TestTenantsKnowNoHTTP(t *testing.T) {
	for _, dir := range []string{".", "authz", "viewer"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range parsed.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				if path == "net/http" || path == "github.com/gatehouse-id/gatehouse/internal/httpserver" {
					t.Errorf("%s imports %s; tenants takes an Origin, not a request", f, path)
				}
			}
		}
	}
}
