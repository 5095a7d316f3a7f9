package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"modernc.org/sqlite"

	"github.com/gatehouse-id/gatehouse/migrations"
)

// Migrate applies the embedded migrations that the database has not seen yet
// (goose keeps the applied versions in goose_db_version). It is idempotent:
// a migrated database is left as it is.
//
// On PostgreSQL it holds a session advisory lock while it runs, so replicas
// starting together migrate one after the other; the others wait up to five
// minutes and then find nothing to do.
//
// On SQLite it migrates through a separate single connection with foreign
// keys OFF, then runs PRAGMA foreign_key_check and fails on any violation.
// Atlas rebuilds a table (create new, copy, DROP, rename) for changes SQLite's
// ALTER TABLE cannot make; its "PRAGMA foreign_keys = off" is a no-op inside
// goose's per-file transaction, so on a foreign-keys-on connection the DROP
// would fire ON DELETE CASCADE / SET NULL and silently delete or orphan child
// rows. SQLite is single-process, so no lock is taken.
func (db *DB) Migrate(ctx context.Context) error {
	fsys, err := migrations.FS(db.Dialect)
	if err != nil {
		return fmt.Errorf("migrate database: %w", err)
	}
	if err := db.migrate(ctx, fsys); err != nil {
		return fmt.Errorf("migrate database: %w", err)
	}
	return nil
}

func (db *DB) migrate(ctx context.Context, fsys fs.FS) error {
	switch db.Dialect {
	case SQLite:
		return db.migrateSQLite(ctx, fsys)
	case Postgres:
		locker, err := lock.NewPostgresSessionLocker(
			lock.WithLockTimeout(1, 300), // retry every second for five minutes
		)
		if err != nil {
			return err
		}
		return db.up(ctx, goose.DialectPostgres, db.SQL, fsys, goose.WithSessionLocker(locker))
	default:
		return fmt.Errorf("unknown dialect %q", db.Dialect)
	}
}

func (db *DB) migrateSQLite(ctx context.Context, fsys fs.FS) (err error) {
	c, err := sqlite.NewConnector(sqliteDSN(db.path, false))
	if err != nil {
		return err
	}
	mdb := sql.OpenDB(c)
	defer func() { err = errors.Join(err, mdb.Close()) }()
	mdb.SetMaxOpenConns(1)
	var fk int
	if err := mdb.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
		return fmt.Errorf("read foreign_keys pragma: %w", err)
	}
	if fk != 0 {
		return errors.New("foreign keys are on in the migration connection")
	}
	if err := db.up(ctx, goose.DialectSQLite3, mdb, fsys); err != nil {
		return err
	}
	return foreignKeyCheck(ctx, mdb)
}

func (db *DB) up(ctx context.Context, dialect goose.Dialect, sdb *sql.DB, fsys fs.FS, opts ...goose.ProviderOption) error {
	opts = append(opts, goose.WithDisableGlobalRegistry(true))
	p, err := goose.NewProvider(dialect, sdb, fsys, opts...)
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	results, err := p.Up(ctx)
	for _, r := range results {
		if r.Error == nil {
			db.logger.InfoContext(ctx, "applied migration", "version", r.Source.Version,
				"file", r.Source.Path, "duration", r.Duration)
		}
	}
	return err
}

// foreignKeyCheck fails when any row references a missing parent.
func foreignKeyCheck(ctx context.Context, sdb *sql.DB) error {
	rows, err := sdb.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		return fmt.Errorf("check foreign keys: %w", err)
	}
	defer rows.Close()
	var bad []string
	for rows.Next() {
		var (
			table, parent string
			rowid         sql.NullInt64
			fkid          int
		)
		if err := rows.Scan(&table, &rowid, &parent, &fkid); err != nil {
			return fmt.Errorf("check foreign keys: %w", err)
		}
		if len(bad) < 10 {
			bad = append(bad, fmt.Sprintf("%s rowid %d -> %s", table, rowid.Int64, parent))
		} else if len(bad) == 10 {
			bad = append(bad, "…")
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("check foreign keys: %w", err)
	}
	if len(bad) > 0 {
		return fmt.Errorf("foreign key check failed after migrating: %s", strings.Join(bad, ", "))
	}
	return nil
}
