package migrations_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"

	entmigrate "github.com/gatehouse-id/gatehouse/ent/migrate"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/migrations"
	"github.com/gatehouse-id/gatehouse/migrations/internal/entdiff"
)

// TestNoDrift fails when ent/schema changed without a migration: it replays
// the embedded migrations on an empty database per backend and diffs the
// result against ent/migrate.Tables with the generator's own options.
func TestNoDrift(t *testing.T) {
	for _, d := range testdb.Empty(t) {
		t.Run(d.Name, func(t *testing.T) {
			fsys, err := migrations.FS(d.Dialect)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			pending, err := entdiff.Pending(ctx, d.SQL, d.Dialect, fsys)
			if errors.Is(err, atlasmigrate.ErrChecksumMismatch) {
				t.Fatalf("migrations/%s/atlas.sum does not match the files (edited by hand?); if the edit is intended, run\n\n"+
					"\tgo run ./migrations/gen -hash\n\nfrom the repository root. Error: %v", mustDir(t, d.Dialect), err)
			}
			if err != nil {
				t.Fatalf("diff %s migrations against ent/migrate.Tables: %v", d.Dialect, err)
			}
			if pending != "" {
				t.Fatalf("the ent schema and migrations/%s disagree; after `go generate ./...`, run\n\n"+
					"\tgo run ./migrations/gen -name <change>\n\n"+
					"from the repository root and commit the new files. The missing migration is:\n\n%s",
					mustDir(t, d.Dialect), pending)
			}
		})
	}
}

func TestFS(t *testing.T) {
	var got []string
	for _, d := range migrations.Dialects() {
		got = append(got, d.Name)
	}
	if want := []string{"sqlite3", "postgres"}; !slices.Equal(got, want) {
		t.Errorf("Dialects() = %q, want %q", got, want)
	}
	for dialect, want := range map[string]string{"sqlite3": "sqlite", "postgres": "postgres"} {
		if got, err := migrations.Dir(dialect); err != nil || got != want {
			t.Errorf("Dir(%q) = %q, %v; want %q", dialect, got, err, want)
		}
	}
	if _, err := migrations.Dir("mysql"); err == nil {
		t.Error(`Dir("mysql") succeeded, want an error`)
	}
	for _, dialect := range []string{"sqlite3", "postgres"} {
		fsys, err := migrations.FS(dialect)
		if err != nil {
			t.Fatalf("FS(%q): %v", dialect, err)
		}
		if _, err := fsys.Open("atlas.sum"); err != nil {
			t.Errorf("FS(%q) has no atlas.sum: %v", dialect, err)
		}
	}
	if _, err := migrations.FS("mysql"); err == nil {
		t.Error(`FS("mysql") succeeded, want an error`)
	}
}

func mustDir(t *testing.T, dialect string) string {
	t.Helper()
	dir, err := migrations.Dir(dialect)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestForeignKeysIndexed fails when a foreign key has no index starting
// with its column: deleting the parent row would scan the whole child
// table for ON DELETE CASCADE, and listing a parent's rows would too. A
// many-to-many join table gets one with schema.JoinIndex.
func TestForeignKeysIndexed(t *testing.T) {
	for _, table := range entmigrate.Tables {
		leading := map[string]bool{}
		if len(table.PrimaryKey) > 0 {
			leading[table.PrimaryKey[0].Name] = true
		}
		for _, ix := range table.Indexes {
			leading[ix.Columns[0].Name] = true
		}
		for _, c := range table.Columns {
			leading[c.Name] = leading[c.Name] || c.Unique // a UNIQUE column is indexed
		}
		for _, fk := range table.ForeignKeys {
			if col := fk.Columns[0].Name; !leading[col] {
				t.Errorf("%s.%s (foreign key %s to %s) has no index that starts with it", table.Name, col, fk.Symbol, fk.RefTable.Name)
			}
		}
	}
}
