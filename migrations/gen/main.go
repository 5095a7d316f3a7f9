package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/sqltool"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/gatehouse-id/gatehouse/migrations"
	"github.com/gatehouse-id/gatehouse/migrations/internal/entdiff"
)

const defaultDevURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

var validName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fl := flag.NewFlagSet("gen", flag.ContinueOnError)
	name := fl.String("name", "", "name of the migration, lower_snake_case (required unless -hash)")
	root := fl.String("dir", "migrations", "directory holding the sqlite and postgres migration directories")
	hash := fl.Bool("hash", false, "only rewrite atlas.sum after editing migration files by hand")
	devURL := fl.String("dev-url", envOr("GATEHOUSE_DEV_DATABASE_URL", defaultDevURL),
		"PostgreSQL server on which to create the scratch dev database (default $GATEHOUSE_DEV_DATABASE_URL)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *hash {
		return rehash(*root)
	}
	if !validName.MatchString(*name) {
		return fmt.Errorf("-name %q: want lower_snake_case, e.g. -name add_user_locale", *name)
	}
	if _, err := os.Stat(filepath.Join(*root, "embed.go")); err != nil {
		return fmt.Errorf("%s is not the migrations package; run from the repository root or pass -dir", *root)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	// Open every dev database before writing anything, so an unreachable
	// PostgreSQL server cannot leave one dialect migrated and not the other.
	dialects := migrations.Dialects()
	devs := make([]*sql.DB, len(dialects))
	for i, d := range dialects {
		dialect := d.Name
		dev, done, err := openDev(ctx, dialect, *devURL)
		if err != nil {
			return err
		}
		defer func() {
			if err := done(); err != nil {
				fmt.Fprintf(os.Stderr, "gen: clean up %s dev database: %v\n", dialect, err)
			}
		}()
		devs[i] = dev
	}
	version := time.Now().UTC().Format("20060102150405")
	for i, d := range dialects {
		dialect, path := d.Name, filepath.Join(*root, d.Dir)
		if err := os.MkdirAll(path, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", path, err)
		}
		written, err := generate(ctx, devs[i], dialect, path, version, *name)
		if err != nil {
			return err
		}
		if written == "" {
			fmt.Printf("%s: no changes\n", dialect)
			continue
		}
		fmt.Printf("%s: wrote %s\n", dialect, filepath.Join(path, written))
	}
	return nil
}

// generate diffs one dialect directory on the empty dev database and returns
// the name of the file it wrote, or "" when there was nothing to write.
func generate(ctx context.Context, dev *sql.DB, dialect, path, version, name string) (string, error) {
	dir, err := sqltool.NewGooseDir(path)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", path, err)
	}
	before, err := fileNames(dir)
	if err != nil {
		return "", err
	}
	err = entdiff.Diff(ctx, dev, dialect, version, name, dir)
	switch {
	case errors.Is(err, atlasmigrate.ErrNoPlan):
		return "", nil
	case err != nil:
		return "", err
	}
	after, err := fileNames(dir)
	if err != nil {
		return "", err
	}
	for _, f := range after {
		if !slices.Contains(before, f) {
			return f, nil
		}
	}
	return "", fmt.Errorf("%s: diff reported changes but no new file appeared in %s", dialect, path)
}

func fileNames(dir atlasmigrate.Dir) ([]string, error) {
	files, err := dir.Files()
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.Name()
	}
	return names, nil
}

// openDev opens an empty dev database for dialect. done closes it and, for
// PostgreSQL, drops the scratch database.
func openDev(ctx context.Context, dialect, devURL string) (db *sql.DB, done func() error, err error) {
	if dialect == "sqlite3" {
		db, err := sql.Open("sqlite", "file:dev?mode=memory&_pragma=foreign_keys(1)")
		if err != nil {
			return nil, nil, fmt.Errorf("open sqlite dev database: %w", err)
		}
		db.SetMaxOpenConns(1) // every connection to :memory: is a database of its own
		return db, db.Close, nil
	}
	u, err := url.Parse(devURL)
	if err != nil {
		return nil, nil, errors.New("parse GATEHOUSE_DEV_DATABASE_URL: malformed URL")
	}
	admin, err := sql.Open("pgx", devURL)
	if err != nil {
		return nil, nil, fmt.Errorf("open postgres dev server %s: %w", u.Redacted(), err)
	}
	suffix := make([]byte, 6)
	rand.Read(suffix)
	scratch := "gatehouse_gen_" + hex.EncodeToString(suffix)
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE "`+scratch+`"`); err != nil {
		admin.Close()
		return nil, nil, fmt.Errorf("create scratch database on %s (set GATEHOUSE_DEV_DATABASE_URL or -dev-url to a server you may create databases on): %w", u.Redacted(), err)
	}
	u.Path = "/" + scratch
	db, err = sql.Open("pgx", u.String())
	if err != nil {
		admin.Close()
		return nil, nil, fmt.Errorf("open scratch database: %w", err)
	}
	done = func() error {
		cerr := db.Close()
		_, derr := admin.ExecContext(context.WithoutCancel(ctx), `DROP DATABASE IF EXISTS "`+scratch+`" WITH (FORCE)`)
		return errors.Join(cerr, derr, admin.Close())
	}
	return db, done, nil
}

// rehash rewrites atlas.sum in every dialect directory from the files present.
func rehash(root string) error {
	for _, d := range migrations.Dialects() {
		path := filepath.Join(root, d.Dir)
		dir, err := sqltool.NewGooseDir(path)
		if err != nil {
			return fmt.Errorf("open %s: %w", path, err)
		}
		sum, err := dir.Checksum()
		if err != nil {
			return fmt.Errorf("hash %s: %w", path, err)
		}
		if err := atlasmigrate.WriteSumFile(dir, sum); err != nil {
			return fmt.Errorf("write %s: %w", filepath.Join(path, atlasmigrate.HashFileName), err)
		}
		fmt.Printf("%s: rehashed %s\n", d.Name, filepath.Join(path, atlasmigrate.HashFileName))
	}
	return nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
