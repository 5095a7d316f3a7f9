// Package database opens Gatehouse's SQL database — an embedded SQLite file
// or PostgreSQL — and migrates it with the embedded versioned migrations.
package database
