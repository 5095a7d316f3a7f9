// Package entdiff compares ent's schema (ent/migrate.Tables) with a directory
// of goose migrations. The generator and the drift test share it, so the check
// never uses other diff options than the code that writes the files.
package entdiff
