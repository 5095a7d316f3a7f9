// Package testdb gives storage-touching tests a fresh, migrated database per
// backend (SQLite always, PostgreSQL when configured) and a way to count the
// SQL statements a piece of code runs.
package testdb
