// Package pulid implements Gatehouse's identifiers: a short type prefix, an
// underscore and a ULID (org_01J…). The same string is used in SQL, GraphQL
// and logs, sorts by creation time, and names its own type.
package pulid

import (
	"database/sql/driver"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/oklog/ulid/v2"
)

// ID is a prefixed ULID such as "org_01JD3Q…".
type ID string

// New returns a fresh ID with the given prefix. ulid.Make is safe for
// concurrent use (unlike a shared ulid.Monotonic source).
func New(prefix string) ID { return ID(prefix + "_" + ulid.Make().String()) }

// Prefix returns the type prefix of id ("org" for "org_01J…"), or "" when id
// has no prefix.
func (id ID) Prefix() string {
	p, _, ok := strings.Cut(string(id), "_")
	if !ok {
		return ""
	}
	return p
}

// Valid reports whether id has the form prefix_ULID.
func (id ID) Valid() bool {
	p, rest, ok := strings.Cut(string(id), "_")
	if !ok || p == "" || len(p) > 8 {
		return false
	}
	_, err := ulid.ParseStrict(rest)
	return err == nil
}

// String returns id as a plain string.
func (id ID) String() string { return string(id) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (id *ID) UnmarshalGQL(v any) error {
	switch s := v.(type) {
	case string:
		*id = ID(s)
	case ID:
		*id = s
	default:
		return fmt.Errorf("id must be a string, got %T", v)
	}
	return nil
}

// MarshalGQL implements graphql.Marshaler.
func (id ID) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(id))) }

// Scan implements sql.Scanner. NULL (an optional id column left empty)
// scans to the empty ID.
func (id *ID) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*id = ""
	case string:
		*id = ID(v)
	case []byte:
		*id = ID(v)
	case ID:
		*id = v
	default:
		return fmt.Errorf("pulid: unexpected type %T", src)
	}
	return nil
}

// Value implements driver.Valuer.
func (id ID) Value() (driver.Value, error) { return string(id), nil }
