package entdiff_test

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	atlasmigrate "ariga.io/atlas/sql/migrate"

	"github.com/gatehouse-id/gatehouse/internal/testdb"
	"github.com/gatehouse-id/gatehouse/migrations"
	"github.com/gatehouse-id/gatehouse/migrations/internal/entdiff"
)

func TestPendingDetectsMissingMigration(t *testing.T) {
	for _, d := range testdb.Empty(t) {
		t.Run(d.Name, func(t *testing.T) {
			pending, err := entdiff.Pending(t.Context(), d.SQL, d.Dialect, fstest.MapFS{})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(pending, "-- +goose Up") || !strings.Contains(pending, "CREATE TABLE") {
				t.Fatalf("Pending on an empty directory = %q, want a goose migration creating tables", pending)
			}
			// The dev database is left empty, so it can be diffed again.
			fsys, err := migrations.FS(d.Dialect)
			if err != nil {
				t.Fatal(err)
			}
			if pending, err := entdiff.Pending(t.Context(), d.SQL, d.Dialect, fsys); err != nil || pending != "" {
				t.Fatalf("Pending on the embedded migrations = %q, %v; want no drift", pending, err)
			}
		})
	}
}

func TestPendingRejectsEditedFile(t *testing.T) {
	for _, d := range testdb.Empty(t) {
		t.Run(d.Name, func(t *testing.T) {
			fsys, err := migrations.FS(d.Dialect)
			if err != nil {
				t.Fatal(err)
			}
			entries, err := fs.ReadDir(fsys, ".")
			if err != nil {
				t.Fatal(err)
			}
			edited := fstest.MapFS{}
			for _, e := range entries {
				b, err := fs.ReadFile(fsys, e.Name())
				if err != nil {
					t.Fatal(err)
				}
				edited[e.Name()] = &fstest.MapFile{Data: b}
			}
			first := entries[0].Name() // sorted: the oldest migration
			edited[first].Data = append(edited[first].Data, "\n-- edited by hand\n"...)
			_, err = entdiff.Pending(t.Context(), d.SQL, d.Dialect, edited)
			if !errors.Is(err, atlasmigrate.ErrChecksumMismatch) {
				t.Fatalf("Pending with an edited file: %v, want %v", err, atlasmigrate.ErrChecksumMismatch)
			}
		})
	}
}
