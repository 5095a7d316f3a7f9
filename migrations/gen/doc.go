// Command gen writes the next versioned migration for every dialect from the
// ent schema (ent/migrate.Tables). Run it from the repository root after
// changing ent/schema and running go generate:
//
//	go run ./migrations/gen -name add_user_locale
//
// It replays migrations/sqlite and migrations/postgres on empty dev databases
// (SQLite in memory; a scratch database created and dropped on the PostgreSQL
// server named by GATEHOUSE_DEV_DATABASE_URL), diffs them against the schema
// and writes <version>_<name>.sql in goose format plus an updated atlas.sum.
// When the files already match the schema it writes nothing.
//
// After editing a generated file by hand (a data migration, say), rehash:
//
//	go run ./migrations/gen -hash
package main
