package entdiff

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync/atomic"
	"text/template"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/sqltool"
	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/schema"

	entmigrate "github.com/gatehouse-id/gatehouse/ent/migrate"
)

// Diff replays dir on the empty dev database dev (ent dialect "sqlite3" or
// "postgres"), compares the result with ent/migrate.Tables and, when they
// differ, writes one goose migration named <version>_<name>.sql into dir.
// It returns migrate.ErrNoPlan when there is nothing to write.
// dev is left empty again afterwards (ent drops what it replayed).
func Diff(ctx context.Context, dev *sql.DB, dialect, version, name string, dir migrate.Dir) error {
	m, err := schema.NewMigrate(entsql.OpenDB(dialect, dev),
		schema.WithDir(dir),
		schema.WithDialect(dialect),
		schema.WithFormatter(GooseFormatter(version)),
		schema.WithMigrationMode(schema.ModeReplay),
		schema.WithDropColumn(true),
		schema.WithDropIndex(true),
		schema.WithErrNoPlan(true),
	)
	if err != nil {
		return fmt.Errorf("create %s migrator: %w", dialect, err)
	}
	if err := m.NamedDiff(ctx, name, entmigrate.Tables...); err != nil {
		if errors.Is(err, migrate.ErrNoPlan) {
			return err
		}
		return fmt.Errorf("diff %s schema: %w", dialect, err)
	}
	return nil
}

// Pending replays the migrations in fsys (an embedded dialect directory, see
// migrations.FS) on the empty dev database and returns the SQL of the
// migration that would still be needed to reach ent's schema, or "" when the
// files and the schema agree. Nothing is written outside memory.
func Pending(ctx context.Context, dev *sql.DB, dialect string, fsys fs.FS) (string, error) {
	dir, err := memCopy(fsys)
	if err != nil {
		return "", err
	}
	defer dir.Close()
	before, err := dir.Files()
	if err != nil {
		return "", err
	}
	err = Diff(ctx, dev, dialect, "99999999999999", "pending", dir)
	switch {
	case errors.Is(err, migrate.ErrNoPlan):
		return "", nil
	case err != nil:
		return "", err
	}
	after, err := dir.Files()
	if err != nil {
		return "", err
	}
	if len(after) == len(before) {
		return "", errors.New("diff reported changes but wrote no migration")
	}
	return string(after[len(after)-1].Bytes()), nil
}

// GooseFormatter is sqltool.GooseFormatter with a fixed version instead of
// the current time, so one generator run gives both dialects the same version.
func GooseFormatter(version string) migrate.Formatter {
	funcs := template.FuncMap{
		"now": func() string { return version },
		"rev": reverse,
	}
	name := template.Must(template.New("name").Funcs(funcs).Parse(
		"{{ now }}{{ with .Name }}_{{ . }}{{ end }}.sql"))
	body := template.Must(template.New("body").Funcs(funcs).Parse(`-- +goose Up
{{ range .Changes }}{{ with .Comment }}-- {{ println . }}{{ end }}{{ printf "%s;\n" .Cmd }}{{ end }}
-- +goose Down
{{ range $c := rev .Changes }}{{ with $stmts := .ReverseStmts }}{{ with $c.Comment }}-- reverse: {{ println . }}{{ end }}{{ range $stmts }}{{ printf "%s;\n" . }}{{ end }}{{ end }}{{ end }}`))
	f, err := migrate.NewTemplateFormatter(name, body)
	if err != nil {
		panic(err) // the templates are constants
	}
	return f
}

func reverse(changes []*migrate.Change) []*migrate.Change {
	rev := make([]*migrate.Change, len(changes))
	for i, c := range changes {
		rev[len(changes)-1-i] = c
	}
	return rev
}

// gooseMemDir is an in-memory migrate.Dir that reads files the way
// sqltool.GooseDir does: only the statements of the "-- +goose Up" section.
type gooseMemDir struct{ *migrate.MemDir }

func (d gooseMemDir) Files() ([]migrate.File, error) {
	files, err := d.MemDir.Files()
	if err != nil {
		return nil, err
	}
	for i, f := range files {
		files[i] = &sqltool.GooseFile{LocalFile: migrate.NewLocalFile(f.Name(), f.Bytes())}
	}
	return files, nil
}

// memDirSeq keeps names passed to migrate.OpenMemDir unique: the name space is
// process-wide and shared by every caller with the same name.
var memDirSeq atomic.Int64

func memCopy(fsys fs.FS) (gooseMemDir, error) {
	dir := gooseMemDir{migrate.OpenMemDir(fmt.Sprintf("gatehouse-entdiff-%d", memDirSeq.Add(1)))}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		dir.Close()
		return gooseMemDir{}, fmt.Errorf("read migrations: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() || !(strings.HasSuffix(e.Name(), ".sql") || e.Name() == migrate.HashFileName) {
			continue
		}
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			dir.Close()
			return gooseMemDir{}, fmt.Errorf("read migrations: %w", err)
		}
		if err := dir.WriteFile(e.Name(), b); err != nil {
			dir.Close()
			return gooseMemDir{}, fmt.Errorf("copy migrations: %w", err)
		}
	}
	return dir, nil
}
