// Package factor is the shape in which a login transaction stores the
// authentication factors proven so far. It lives beside the schema so that
// the generated ent code can name it without importing the domain;
// tenants gives it meaning (tenants.Factor and the Method constants).
package factor

import "time"

// Proven is one factor a login proved, and when.
type Proven struct {
	// Method is "pwd", "otp", "hwk", "swk", "email" or "sso:<connection id>".
	Method string    `json:"method"`
	At     time.Time `json:"at"`
}
