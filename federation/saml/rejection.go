package saml

import (
	"errors"
	"fmt"

	"github.com/gatehouse-id/gatehouse/federation"
)

// Rejection codes: one stable word per reason an answer from the IdP is
// refused, for the audit log and metrics. Several checks may share a code
// (every way an assertion can be expired is "expired").
const (
	CodeMalformed            = "malformed"               // not a SAML Response we can read: bad base64, XML, structure
	CodeTooLarge             = "too_large"               // over a size, depth or element cap (SAML-12)
	CodeForbiddenMarkup      = "forbidden_markup"        // DOCTYPE, comment, CDATA or processing instruction (SAML-03, SAML-10)
	CodeUnsupportedBinding   = "unsupported_binding"     // artifact, SimpleSign or a GET: only HTTP-POST is accepted
	CodeMultipleAssertions   = "multiple_assertions"     // more than one Assertion/EncryptedAssertion anywhere (SAML-02)
	CodeNoAssertion          = "no_assertion"            // no Assertion at all
	CodeForeignNameID        = "foreign_name_id"         // a NameID outside the SAML assertion namespace (SAML-09)
	CodeUnsigned             = "unsigned"                // neither Response nor Assertion signed (SAML-04)
	CodeSignatureInvalid     = "signature_invalid"       // a signature that does not verify or covers the wrong element
	CodeUnknownCertificate   = "unknown_certificate"     // signed by a key not in this connection's IdP certificates (SAML-05)
	CodeWeakAlgorithm        = "weak_algorithm"          // SHA-1 or another refused algorithm (SAML-06)
	CodeIssuerMismatch       = "issuer_mismatch"         // Issuer missing or not the IdP's entity id
	CodeAudienceMismatch     = "audience_mismatch"       // no AudienceRestriction, or not naming this SP
	CodeDestinationMismatch  = "destination_mismatch"    // Response Destination missing (signed) or not the ACS URL
	CodeRecipientMismatch    = "recipient_mismatch"      // SubjectConfirmationData Recipient not the ACS URL
	CodeInResponseToMismatch = "in_response_to_mismatch" // InResponseTo of another request, or on an unsolicited response
	CodeIdPInitiatedDisabled = "idp_initiated_disabled"  // no pending request and the connection refuses IdP-initiated sign-in
	CodeExpired              = "expired"                 // a NotOnOrAfter or the issue instant is past
	CodeNotYetValid          = "not_yet_valid"           // a NotBefore or the issue instant is in the future
	CodeReplayed             = "replayed"                // the assertion id was already used (SAML-07)
	CodeReplayUnavailable    = "replay_unavailable"      // the replay record could not be written: fail closed
	CodeSubjectConfirmation  = "subject_confirmation"    // no bearer SubjectConfirmation with its data
	CodeNoSubject            = "no_subject"              // no Subject or no usable NameID
	CodeDuplicateAttribute   = "duplicate_attribute"     // an identity attribute sent twice (SAML-09)
	CodeStatus               = "status"                  // the IdP answered with a non-Success StatusCode
	CodeDecryptionFailed     = "decryption_failed"       // an EncryptedAssertion no SP key opens (SAML-13)
	CodeState                = "state"                   // the state from Begin is unreadable
)

// Rejection is why an answer from the IdP was refused: federation's own type, so
// that the pages read every protocol's refusals alike with no wrapping.
// Code is a stable machine word (the Code… constants); Reason is precise
// human text for the audit log and the connection's test page, never
// shown to the person signing in; Err is the underlying library error,
// when there is one.
type Rejection = federation.Rejection

func reject(code, format string, args ...any) *Rejection {
	return &Rejection{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// CodeOf is the Rejection code of err, or "" when err is not a Rejection.
func CodeOf(err error) string {
	var r *Rejection
	if errors.As(err, &r) {
		return r.Code
	}
	return ""
}
