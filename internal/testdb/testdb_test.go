package testdb_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-id/gatehouse/internal/database"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
)

func TestAllIsMigratedAndFresh(t *testing.T) {
	first := testdb.All(t)
	second := testdb.All(t)
	want := 1
	if os.Getenv(testdb.EnvPostgresURL) != "" {
		want = 2
	}
	if len(first) != want {
		t.Fatalf("All returned %d databases, want %d", len(first), want)
	}
	for i, d := range first {
		t.Run(d.Name, func(t *testing.T) {
			if n := count(t, d.SQL, `SELECT count(*) FROM goose_db_version WHERE version_id > 0`); n == 0 {
				t.Error("no migrations applied")
			}
			// Fresh: a table made in one database is not in the other.
			if _, err := d.SQL.ExecContext(t.Context(), `CREATE TABLE only_here (id integer)`); err != nil {
				t.Fatal(err)
			}
			if _, err := second[i].SQL.ExecContext(t.Context(), `CREATE TABLE only_here (id integer)`); err != nil {
				t.Errorf("second database is not separate: %v", err)
			}
			// DSN opens the same database with the plain driver.
			driver := map[string]string{database.SQLite: "sqlite", database.Postgres: "pgx"}[d.Dialect]
			other, err := sql.Open(driver, d.DSN)
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			if n := count(t, other, `SELECT count(*) FROM only_here`); n != 0 {
				t.Errorf("only_here has %d rows, want 0", n)
			}
		})
	}
}

func TestEmptyHasNoTables(t *testing.T) {
	for _, d := range testdb.Empty(t) {
		t.Run(d.Name, func(t *testing.T) {
			q := `SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()`
			if d.Dialect == database.SQLite {
				q = `SELECT count(*) FROM sqlite_master WHERE type = 'table'`
			}
			if n := count(t, d.SQL, q); n != 0 {
				t.Errorf("%d tables, want 0", n)
			}
		})
	}
}

func TestPostgresDatabaseIsDropped(t *testing.T) {
	server := os.Getenv(testdb.EnvPostgresURL)
	if server == "" {
		t.Skipf("set %s to run", testdb.EnvPostgresURL)
	}
	var name string
	t.Run("Use/Some Name", func(t *testing.T) {
		for _, d := range testdb.All(t) {
			if d.Name == "postgres" {
				if err := d.SQL.QueryRowContext(t.Context(), `SELECT current_database()`).Scan(&name); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
	if !strings.HasPrefix(name, "testpostgresdatabaseisdropped_use_some_name_") || len(name) > 63 {
		t.Errorf("database name %q: want the sanitized test name plus a suffix, at most 63 bytes", name)
	}
	admin, err := database.Open(t.Context(), database.Config{URL: server})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if n := count(t, admin.SQL, fmt.Sprintf(`SELECT count(*) FROM pg_database WHERE datname = '%s'`, name)); n != 0 {
		t.Errorf("database %s still exists after the test", name)
	}
}

// fakeTB records Fatalf and Logf; Fatalf ends the goroutine as testing does.
type fakeTB struct {
	testing.TB
	mu     sync.Mutex
	fatal  string
	logged string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.fatal = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	panic(f) // unwound by run
}
func (f *fakeTB) Logf(format string, args ...any) {
	f.mu.Lock()
	f.logged += fmt.Sprintf(format, args...)
	f.mu.Unlock()
}

func run(tb *fakeTB, fn func()) {
	defer func() {
		if r := recover(); r != nil && r != tb {
			panic(r)
		}
	}()
	fn()
}

func TestMissingPostgres(t *testing.T) {
	t.Setenv(testdb.EnvPostgresURL, "")

	t.Setenv(testdb.EnvRequireAll, "")
	tb := &fakeTB{TB: t}
	var got []testdb.Database
	run(tb, func() { got = testdb.All(tb) })
	if tb.fatal != "" || len(got) != 1 || got[0].Name != "sqlite" {
		t.Errorf("without %s: fatal %q, %d databases; want SQLite only, no failure", testdb.EnvRequireAll, tb.fatal, len(got))
	}
	if !strings.Contains(tb.logged, testdb.EnvPostgresURL) {
		t.Errorf("log %q does not say to set %s", tb.logged, testdb.EnvPostgresURL)
	}

	t.Setenv(testdb.EnvRequireAll, "1")
	tb = &fakeTB{TB: t}
	run(tb, func() { testdb.All(tb) })
	if !strings.Contains(tb.fatal, testdb.EnvPostgresURL) {
		t.Errorf("with %s=1: fatal %q, want a failure naming %s", testdb.EnvRequireAll, tb.fatal, testdb.EnvPostgresURL)
	}
}

func TestCounting(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d testdb.Database) {
		ctx := t.Context()
		if _, err := d.SQL.ExecContext(ctx, `CREATE TABLE counted (id integer PRIMARY KEY, v text)`); err != nil {
			t.Fatal(err)
		}
		db, n := d.Counting(t)
		if got := n.Load(); got != 0 {
			t.Fatalf("fresh counter = %d, want 0", got)
		}
		ph := "?"
		if d.Dialect == database.Postgres {
			ph = "$1"
		}
		mustExec(t, db, `INSERT INTO counted (id, v) VALUES (1, 'a')`) // 1
		var v string
		if err := db.QueryRowContext(ctx, `SELECT v FROM counted WHERE id = `+ph, 1).Scan(&v); err != nil { // 2
			t.Fatal(err)
		}
		rows, err := db.QueryContext(ctx, `SELECT id FROM counted`) // 3
		if err != nil {
			t.Fatal(err)
		}
		rows.Close()
		tx, err := db.BeginTx(ctx, nil) // not counted
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO counted (id, v) VALUES (2, 'b')`); err != nil { // 4
			t.Fatal(err)
		}
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM counted`).Scan(new(int)); err != nil { // 5
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil { // not counted
			t.Fatal(err)
		}
		st, err := db.PrepareContext(ctx, `SELECT v FROM counted WHERE id = `+ph)
		if err != nil {
			t.Fatal(err)
		}
		for id := range 2 { // 6, 7
			if err := st.QueryRowContext(ctx, id+1).Scan(&v); err != nil {
				t.Fatal(err)
			}
		}
		st.Close()
		if err := db.PingContext(ctx); err != nil { // not counted
			t.Fatal(err)
		}
		if got := n.Load(); got != 7 {
			t.Errorf("counted %d statements, want 7: %q", got, n.Statements())
		}
		if got := len(n.Statements()); got != 7 {
			t.Errorf("recorded %d statements, want 7", got)
		}
		n.Reset()
		mustExec(t, db, `DELETE FROM counted`)
		if got := n.Load(); got != 1 {
			t.Errorf("after Reset: counted %d, want 1: %q", got, n.Statements())
		}
		// The original pool is not counted.
		mustExec(t, d.SQL, `DELETE FROM counted`)
		if got := n.Load(); got != 1 {
			t.Errorf("statements on d.SQL were counted: %d, want 1", got)
		}
	})
}

func TestCountingConcurrent(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d testdb.Database) {
		db, n := d.Counting(t)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 10 {
					if err := db.QueryRowContext(t.Context(), `SELECT 1`).Scan(new(int)); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		if got := n.Load(); got != 80 {
			t.Errorf("counted %d, want 80", got)
		}
	})
}

func count(t *testing.T, db *sql.DB, query string) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(t.Context(), query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func mustExec(t *testing.T, db *sql.DB, query string) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), query); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}
