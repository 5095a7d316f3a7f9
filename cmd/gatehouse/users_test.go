package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse-id/gatehouse/internal/config"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// TestUsersImport runs `gatehouse users import` against a fresh SQLite
// database, then signs an imported bcrypt user in through the same
// database: the hash becomes argon2id.
func TestUsersImport(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"GATEHOUSE_DATA_DIR": dir}
	hash, err := bcrypt.GenerateFromPassword([]byte("legacy secret"), 10)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "users.jsonl")
	lines := []string{
		`{"email":"ada@example.com","emailVerified":true,"name":"Ada Lovelace","passwordHash":"` + string(hash) + `"}`,
		``, // blank lines are skipped
		`{"email":"grace@example.com","givenName":"Grace"}`,
		`{"email":"md5@example.com","passwordHash":"5f4dcc3b5aa765d61d8327deb882cf99"}`,
		`{"email":"typo@example.com","password_hash":"x"}`,
		`not json`,
		`{"email":"ADA@example.com"}`,
		`{"email":"orphan@example.com","organizationID":"or_01NOSUCHORGANIZATION0000"}`,
	}
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCmd(t, env, "users", "import", "--file", file)
	if r.code != 1 || r.stdout != "Imported 2 users; 5 lines refused.\n" {
		t.Fatalf("users import: exit %d, stdout %q, stderr %q; want exit 1 and 2 imported, 5 refused", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"line 4 (md5@example.com): passwordHash:", `line 5: not a user object: json: unknown field "password_hash"`,
		"line 6: not a user object", "line 7 (ADA@example.com): email: appears already in row 0", "line 8 (orphan@example.com): organizationID:"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	// Again: every user is there already.
	if r := runCmd(t, env, "users", "import", "--file", file); r.code != 1 || !strings.HasPrefix(r.stdout, "Imported 0 users; 7 lines refused.") ||
		!strings.Contains(r.stderr, "line 1 (ada@example.com): email: is already registered") {
		t.Fatalf("second import: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	cfg, err := config.Bind(flag.NewFlagSet("test", flag.ContinueOnError), func(k string) string { return env[k] }).Load()
	if err != nil {
		t.Fatal(err)
	}
	b, err := openBackend(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	c, err := b.tenants.VerifyPassword(context.Background(), "ada@example.com", "legacy secret")
	if err != nil || c.User == nil || !c.User.EmailVerified || c.User.Name != "Ada Lovelace" {
		t.Fatalf("imported user signs in: %+v, %v", c, err)
	}
	if h := b.client.User.GetX(viewer.SystemContext(context.Background()), c.User.ID).PasswordHash; !strings.HasPrefix(h, "$argon2id$") {
		t.Errorf("hash after sign-in = %.10s…, want argon2id", h)
	}
}

func TestUsersImportUsage(t *testing.T) {
	env := map[string]string{"GATEHOUSE_DATA_DIR": t.TempDir()}
	if r := runCmd(t, env, "users", "import"); r.code != 2 || !strings.Contains(r.stderr, "--file is required") {
		t.Errorf("without --file: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := runCmd(t, env, "users", "import", "--file", filepath.Join(t.TempDir(), "missing.jsonl")); r.code != 2 || !strings.Contains(r.stderr, "no such file") {
		t.Errorf("missing file: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := runCmd(t, env, "users", "--help"); r.code != 0 || !strings.Contains(r.stdout, "import") {
		t.Errorf("users --help: exit %d, stdout %q", r.code, r.stdout)
	}
}
