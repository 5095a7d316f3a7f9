package testdb

import (
	"database/sql"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/gatehouse-id/gatehouse/ent"
)

// Client returns an ent client on d.SQL. It needs no Close: d.SQL is closed
// in t.Cleanup. Privacy policies and hooks are installed only when the test
// imports ent/runtime (testdb does not: the packages the schema imports
// could not use it in their own tests).
func (d Database) Client() *ent.Client {
	return d.ClientOn(d.SQL)
}

// ClientOn returns an ent client in d's dialect on another pool of d, such
// as the one from Counting.
func (d Database) ClientOn(db *sql.DB) *ent.Client {
	return ent.NewClient(ent.Driver(entsql.OpenDB(d.Dialect, db)))
}
