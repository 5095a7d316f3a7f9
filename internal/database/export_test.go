package database

import (
	"context"
	"io/fs"
)

// MigrateFS is Migrate with a test's own migrations.
func (db *DB) MigrateFS(ctx context.Context, fsys fs.FS) error {
	return db.migrate(ctx, fsys)
}
