package tenants

import (
	"context"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse-id/gatehouse/internal/password"
	"github.com/gatehouse-id/gatehouse/internal/password/breached"
)

// The rules for a new password, after NIST SP 800-63B-4 §3.1.1.2: a
// minimum length (the organization policy's password_min_length), a
// generous maximum, no composition rules (no "one digit, one symbol"), and
// no password that attackers try first — one on the offline list of
// breached and common passwords (internal/password/breached) or one built
// from the account's own context (the email's local part, the organization
// or product name). Lengths count characters (runes) of the NFKC form, the
// form that is hashed (internal/password). Every place that sets a password
// (CreateUser, SetUserPassword, the hosted signup and reset pages) checks it
// with CheckNewPassword.

// Reasons a new password is refused: InputError.Code on field "password",
// shown to GraphQL clients as extensions.reason, for pages to pick their
// own wording.
const (
	PasswordTooShort   = "too_short"
	PasswordTooLong    = "too_long"
	PasswordBreached   = "breached"
	PasswordContextual = "contextual"
	PasswordInvalid    = "invalid" // not UTF-8, or a control character
)

const (
	// DefaultPasswordMinLength is the minimum for an account in no
	// organization, and the floor of every policy's password_min_length
	// (NIST's minimum for a password used with a second factor).
	DefaultPasswordMinLength = 8
	// PasswordMaxLength is the most characters a password may have: well
	// above NIST's "at least 64", and a bound on what is hashed.
	PasswordMaxLength = 256
	// minContextLength is the shortest context word that a password may not
	// contain: shorter ones ("ai", "bob") occur in too many good passwords.
	minContextLength = 4
)

// CheckNewPassword checks pw against the rules for a new password, with a
// minimum of minLength characters (at least DefaultPasswordMinLength; 0
// means the default) and context: words the password must neither be nor
// contain, ignoring case — the account's email (its local part counts) and
// the names of its organization, application or product. It returns nil
// or an *InputError on field "password" whose Code is one of Password*.
//
// The hosted pages call it to answer before anything is stored; CreateUser
// and SetUserPassword call it again with the strictest policy of the
// user's organizations.
func (s *Service) CheckNewPassword(_ context.Context, pw string, minLength int, context ...string) error {
	return checkNewPassword(pw, minLength, context...)
}

// checkNewPassword is CheckNewPassword: pure, no I/O.
func checkNewPassword(pw string, minLength int, context ...string) error {
	minLength = max(minLength, DefaultPasswordMinLength)
	if len(pw) > 4*password.MaxLength {
		// Far too long in any form: refused before normalizing it.
		return passwordError(PasswordTooLong, "must be at most %d characters", PasswordMaxLength)
	}
	if !utf8.ValidString(pw) || strings.ContainsFunc(pw, isControl) {
		return passwordError(PasswordInvalid, "must be text without control characters")
	}
	n := password.Normalize(pw)
	switch runes := utf8.RuneCountInString(n); {
	case runes > PasswordMaxLength || len(n) > password.MaxLength:
		return passwordError(PasswordTooLong, "must be at most %d characters", PasswordMaxLength)
	case runes < minLength:
		return passwordError(PasswordTooShort, "must be at least %d characters", minLength)
	case strings.TrimSpace(n) == "":
		return passwordError(PasswordTooShort, "must contain more than spaces")
	}
	if breached.Contains(n) {
		return passwordError(PasswordBreached, "is too common: it appears in lists of leaked passwords that attackers try first; choose another")
	}
	lower := strings.ToLower(n)
	for _, c := range contextWords(context) {
		if strings.Contains(lower, c) {
			return passwordError(PasswordContextual, "must not contain your email address or the name of the organization or service")
		}
	}
	return nil
}

// isControl reports the characters a password may not hold: control
// characters other than tab (NUL, line breaks, escapes) are never typed.
func isControl(r rune) bool { return r != '\t' && unicode.IsControl(r) }

// contextWords are the lower-cased NFKC forms of the context values (of an
// email, its local part) and of their words, each at least
// minContextLength characters: "ada.lovelace@example.com" gives
// "ada.lovelace" and "lovelace"; "Acme Corp" gives "acme corp" and "acme".
func contextWords(context []string) []string {
	var words []string
	add := func(w string) {
		if utf8.RuneCountInString(w) >= minContextLength {
			words = append(words, w)
		}
	}
	for _, c := range context {
		c = strings.ToLower(password.Normalize(strings.TrimSpace(c)))
		if at := strings.LastIndexByte(c, '@'); at >= 0 {
			c = c[:at]
		}
		add(c)
		parts := strings.FieldsFunc(c, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
		if len(parts) > 1 {
			for _, p := range parts {
				add(p)
			}
		}
	}
	return words
}

func passwordError(code, format string, args ...any) error {
	err := invalid("password", format, args...).(*InputError)
	err.Code = code
	return err
}
