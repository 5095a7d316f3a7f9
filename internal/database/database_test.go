package database_test

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/gatehouse-id/gatehouse/internal/database"
	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/migrations"
)

func open(t *testing.T, cfg database.Config) *database.DB {
	t.Helper()
	db, err := database.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestMigrateTwiceIsNoOp(t *testing.T) {
	for _, d := range testdb.Empty(t) {
		t.Run(d.Name, func(t *testing.T) {
			files := migrationFiles(t, d.Dialect)
			db := open(t, d.Config)
			if err := db.Migrate(t.Context()); err != nil {
				t.Fatalf("first Migrate: %v", err)
			}
			if got := appliedVersions(t, db); got != files {
				t.Fatalf("after first Migrate: %d versions applied, want %d", got, files)
			}
			tables := tableCount(t, db)
			// Again on the same handle, and from a second handle as a restart would.
			if err := db.Migrate(t.Context()); err != nil {
				t.Fatalf("second Migrate: %v", err)
			}
			if err := open(t, d.Config).Migrate(t.Context()); err != nil {
				t.Fatalf("Migrate after reopening: %v", err)
			}
			if got := appliedVersions(t, db); got != files {
				t.Errorf("after repeated Migrate: %d versions applied, want %d", got, files)
			}
			if got := tableCount(t, db); got != tables {
				t.Errorf("after repeated Migrate: %d tables, want %d", got, tables)
			}
		})
	}
}

func TestMigrateConcurrentReplicas(t *testing.T) {
	for _, d := range testdb.Empty(t) {
		if d.Dialect != database.Postgres {
			continue // SQLite is single-process
		}
		t.Run(d.Name, func(t *testing.T) {
			const replicas = 4
			dbs := make([]*database.DB, replicas)
			for i := range dbs {
				dbs[i] = open(t, d.Config)
			}
			errs := make([]error, replicas)
			var wg sync.WaitGroup
			for i, db := range dbs {
				wg.Go(func() { errs[i] = db.Migrate(t.Context()) })
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("replica %d: %v", i, err)
				}
			}
			if got, want := appliedVersions(t, dbs[0]), migrationFiles(t, d.Dialect); got != want {
				t.Errorf("%d versions applied, want %d", got, want)
			}
		})
	}
}

func TestForeignKeysOn(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d testdb.Database) {
		ctx := t.Context()
		exec(t, d.SQL, `CREATE TABLE fk_parents (id integer PRIMARY KEY)`)
		exec(t, d.SQL, `CREATE TABLE fk_children (id integer PRIMARY KEY, parent_id integer NOT NULL REFERENCES fk_parents (id))`)
		// Hold several connections at once so the check covers more than one.
		conns := make([]interface{ Close() error }, 0, 4)
		for range 4 {
			c, err := d.SQL.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
			if d.Dialect == database.SQLite {
				var fk int
				if err := c.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
					t.Errorf("PRAGMA foreign_keys = %d, %v; want 1", fk, err)
				}
			}
			if _, err := c.ExecContext(ctx, `INSERT INTO fk_children (id, parent_id) VALUES (1, 42)`); err == nil {
				t.Error("inserting a child of a missing parent succeeded, want a foreign key error")
			}
		}
		for _, c := range conns {
			c.Close()
		}
	})
}

func TestOpenErrorsHidePassword(t *testing.T) {
	const secret = "s3cr3t-Pa55"
	for _, url := range []string{
		"postgres://gate:" + secret + "@127.0.0.1:1/gatehouse?sslmode=disable&connect_timeout=2", // refused
		"postgresql://gate:" + secret + "@127.0.0.1:notaport/gatehouse",                          // does not parse
		"postgres://gate:" + secret + "@127.0.0.1:1/gatehouse?sslmode=bogus",                     // pgx rejects
		"postgres://gate:" + secret + "@[::1/gatehouse",                                          // broken host
		"postgres://gate:" + secret + "%2F@127.0.0.1:1/gatehouse?connect_timeout=2",              // escaped
	} {
		_, err := database.Open(t.Context(), database.Config{URL: url})
		if err == nil {
			t.Errorf("Open(%q) succeeded, want an error", url)
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, secret) || strings.Contains(msg, "Pa55") {
			t.Errorf("error reveals the password: %s", msg)
		}
		if !strings.HasPrefix(msg, "open database: ") {
			t.Errorf("error %q does not start with %q", msg, "open database: ")
		}
	}
}

func TestOpenRejectsUnknownURL(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"mysql://root:hunter2@localhost/gatehouse", `"mysql"`},
		{"sqlite:///var/lib/gatehouse.db", `"sqlite"`},
		{"gatehouse.db", "unsupported database URL"},
		{"user:hunter2@host/db", "unsupported database URL"},
	} {
		_, err := database.Open(t.Context(), database.Config{URL: tc.url, DataDir: t.TempDir()})
		if err == nil {
			t.Errorf("Open(%q) succeeded, want an error", tc.url)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tc.want) || !strings.Contains(msg, "postgres://") {
			t.Errorf("Open(%q) = %q, want it to mention %s and the accepted forms", tc.url, msg, tc.want)
		}
		if strings.Contains(msg, "hunter2") {
			t.Errorf("error reveals the password: %s", msg)
		}
	}
}

func TestOpenSQLite(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "data", "dir with ?#% chars")
	db := open(t, database.Config{DataDir: dir})
	if db.Dialect != database.SQLite {
		t.Errorf("Dialect = %q, want %q", db.Dialect, database.SQLite)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("data directory mode = %v, want 0700", perm)
	}
	if _, err := os.Stat(filepath.Join(dir, database.SQLiteFile)); err != nil {
		t.Errorf("database file not where expected: %v", err)
	}
	if got, want := db.Describe(), "sqlite "+filepath.Join(dir, database.SQLiteFile); got != want {
		t.Errorf("Describe() = %q, want %q", got, want)
	}
	var mode string
	if err := db.SQL.QueryRowContext(t.Context(), "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	if err := db.Ready(t.Context()); err != nil {
		t.Errorf("Ready: %v", err)
	}
	db.Close()
	if err := db.Ready(t.Context()); err == nil {
		t.Error("Ready after Close succeeded, want an error")
	}

	if _, err := database.Open(t.Context(), database.Config{}); err == nil {
		t.Error("Open without URL or DataDir succeeded, want an error")
	}
}

func TestDescribePostgres(t *testing.T) {
	for _, d := range testdb.Empty(t) {
		if d.Dialect != database.Postgres {
			continue
		}
		db := open(t, d.Config)
		got := db.Describe()
		if !strings.HasPrefix(got, "postgres ") || strings.Contains(got, "@") || strings.Contains(got, "://") {
			t.Errorf("Describe() = %q, want \"postgres host:port/db\"", got)
		}
		if err := db.Ready(t.Context()); err != nil {
			t.Errorf("Ready: %v", err)
		}
	}
}

// TestPostgresPoolSize: MaxConns caps the open connections; zero means the
// default of 20. (database/sql does not report the idle limit.)
func TestPostgresPoolSize(t *testing.T) {
	for _, d := range testdb.Empty(t) {
		if d.Dialect != database.Postgres {
			continue
		}
		for _, c := range []struct{ maxConns, want int }{{0, 20}, {7, 7}} {
			cfg := d.Config
			cfg.MaxConns = c.maxConns
			db := open(t, cfg)
			if got := db.SQL.Stats().MaxOpenConnections; got != c.want {
				t.Errorf("MaxConns %d: pool of %d, want %d", c.maxConns, got, c.want)
			}
		}
	}
}

// TestConcurrentWriters runs read-then-write transactions from 8 goroutines.
// On SQLite a deferred transaction would fail with SQLITE_BUSY when it
// upgrades its read lock; BEGIN IMMEDIATE (_txlock=immediate) makes it wait.
func TestConcurrentWriters(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d testdb.Database) {
		exec(t, d.SQL, `CREATE TABLE writes (n integer NOT NULL, worker integer NOT NULL)`)
		const workers, each = 8, 25
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for w := range workers {
			wg.Go(func() {
				for range each {
					if err := readThenWrite(t.Context(), d, w); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		var n int
		if err := d.SQL.QueryRowContext(t.Context(), `SELECT count(*) FROM writes`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != workers*each {
			t.Errorf("%d rows written, want %d", n, workers*each)
		}
	})
}

func readThenWrite(ctx context.Context, d testdb.Database, worker int) error {
	tx, err := d.SQL.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	var max int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(n), 0) FROM writes`).Scan(&max); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`INSERT INTO writes (n, worker) VALUES (%d, %d)`, max+1, worker)); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Migrations for the SQLite table-rebuild tests (STACK-NOTES gotcha 10).
const (
	parentsV1 = `-- +goose Up
CREATE TABLE parents (id integer PRIMARY KEY, name text NOT NULL);
CREATE TABLE cascade_children (id integer PRIMARY KEY, parent_id integer NOT NULL REFERENCES parents (id) ON DELETE CASCADE);
CREATE TABLE setnull_children (id integer PRIMARY KEY, parent_id integer NULL REFERENCES parents (id) ON DELETE SET NULL);
`
	// What atlas writes when parents.name becomes nullable: SQLite cannot
	// ALTER a column, so the table is rebuilt.
	rebuildParents = `PRAGMA foreign_keys = off;
CREATE TABLE new_parents (id integer PRIMARY KEY, name text NULL);
INSERT INTO new_parents (id, name) SELECT id, name FROM parents;
DROP TABLE parents;
ALTER TABLE new_parents RENAME TO parents;
PRAGMA foreign_keys = on;
`
	seedParents = `INSERT INTO parents (id, name) VALUES (1, 'p');
INSERT INTO cascade_children (id, parent_id) VALUES (10, 1);
INSERT INTO setnull_children (id, parent_id) VALUES (20, 1);`
)

func TestMigrateSQLiteTableRebuildKeepsChildRows(t *testing.T) {
	db := open(t, database.Config{DataDir: t.TempDir()})
	v1 := fstest.MapFS{"00001_parents.sql": {Data: []byte(parentsV1)}}
	if err := db.MigrateFS(t.Context(), v1); err != nil {
		t.Fatal(err)
	}
	exec(t, db.SQL, seedParents)
	v2 := fstest.MapFS{
		"00001_parents.sql":  v1["00001_parents.sql"],
		"00002_nullable.sql": {Data: []byte("-- +goose Up\n" + rebuildParents)},
	}
	if err := db.MigrateFS(t.Context(), v2); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db.SQL, `SELECT count(*) FROM cascade_children WHERE parent_id = 1`); n != 1 {
		t.Errorf("ON DELETE CASCADE child: %d rows left, want 1", n)
	}
	if n := count(t, db.SQL, `SELECT count(*) FROM setnull_children WHERE parent_id = 1`); n != 1 {
		t.Errorf("ON DELETE SET NULL child: %d rows still point at the parent, want 1", n)
	}
	// The rebuilt table is enforced again on the application handle.
	if _, err := db.SQL.ExecContext(t.Context(), `DELETE FROM parents WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db.SQL, `SELECT count(*) FROM cascade_children`); n != 0 {
		t.Errorf("after deleting the parent: %d cascade children, want 0 (foreign keys not enforced?)", n)
	}
}

// TestSQLiteTableRebuildHazard shows what the separate migration handle
// prevents: the same rebuild in a transaction on a foreign-keys-on connection
// silently deletes and orphans child rows.
func TestSQLiteTableRebuildHazard(t *testing.T) {
	db := open(t, database.Config{DataDir: t.TempDir()})
	exec(t, db.SQL, strings.TrimPrefix(parentsV1, "-- +goose Up\n"))
	exec(t, db.SQL, seedParents)
	tx, err := db.SQL.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(t.Context(), rebuildParents); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db.SQL, `SELECT count(*) FROM cascade_children`); n != 0 {
		t.Errorf("expected the hazard: cascade children = %d, want 0 (deleted)", n)
	}
	if n := count(t, db.SQL, `SELECT count(*) FROM setnull_children WHERE parent_id IS NULL`); n != 1 {
		t.Errorf("expected the hazard: %d nulled set-null children, want 1", n)
	}
}

func TestMigrateSQLiteFailsOnForeignKeyViolation(t *testing.T) {
	db := open(t, database.Config{DataDir: t.TempDir()})
	fsys := fstest.MapFS{
		"00001_parents.sql": {Data: []byte(parentsV1)},
		"00002_orphan.sql":  {Data: []byte("-- +goose Up\nINSERT INTO cascade_children (id, parent_id) VALUES (11, 404);\n")},
	}
	err := db.MigrateFS(t.Context(), fsys)
	if err == nil || !strings.Contains(err.Error(), "foreign key check failed") || !strings.Contains(err.Error(), "cascade_children") {
		t.Fatalf("MigrateFS with an orphan row = %v, want a foreign key check failure naming cascade_children", err)
	}
}

// TestMigrateKeepsRows re-runs the real migrations on a database that holds
// parent and child rows: nothing is lost and the foreign keys stay intact.
func TestMigrateKeepsRows(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d testdb.Database) {
		exec(t, d.SQL, strings.TrimPrefix(parentsV1, "-- +goose Up\n"))
		exec(t, d.SQL, seedParents)
		db := open(t, d.Config)
		if err := db.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		if n := count(t, d.SQL, `SELECT count(*) FROM cascade_children WHERE parent_id = 1`); n != 1 {
			t.Errorf("cascade children: %d, want 1", n)
		}
		if n := count(t, d.SQL, `SELECT count(*) FROM setnull_children WHERE parent_id = 1`); n != 1 {
			t.Errorf("set-null children pointing at the parent: %d, want 1", n)
		}
		if d.Dialect == database.SQLite {
			if n := count(t, d.SQL, `SELECT count(*) FROM pragma_foreign_key_check`); n != 0 {
				t.Errorf("foreign_key_check: %d violations, want 0", n)
			}
		}
	})
}

func migrationFiles(t *testing.T, dialect string) int {
	t.Helper()
	fsys, err := migrations.FS(dialect)
	if err != nil {
		t.Fatal(err)
	}
	files, err := fs.Glob(fsys, "*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations for %s: %v", dialect, err)
	}
	return len(files)
}

func appliedVersions(t *testing.T, db *database.DB) int {
	t.Helper()
	// goose records version 0 when it creates its table.
	return count(t, db.SQL, `SELECT count(DISTINCT version_id) FROM goose_db_version WHERE version_id > 0 AND is_applied`)
}

func tableCount(t *testing.T, db *database.DB) int {
	t.Helper()
	if db.Dialect == database.SQLite {
		return count(t, db.SQL, `SELECT count(*) FROM sqlite_master WHERE type = 'table'`)
	}
	return count(t, db.SQL, `SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()`)
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func count(t *testing.T, q querier, query string) int {
	t.Helper()
	var n int
	if err := q.QueryRowContext(t.Context(), query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// exec runs one or more ;-separated statements.
func exec(t *testing.T, q querier, stmts string) {
	t.Helper()
	for _, s := range strings.Split(stmts, ";") {
		if strings.TrimSpace(s) == "" {
			continue
		}
		if _, err := q.ExecContext(t.Context(), s); err != nil {
			t.Fatalf("%s: %v", strings.TrimSpace(s), err)
		}
	}
}
