package saml

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/crewjam/saml"

	"github.com/gatehouse-id/gatehouse/federation"
)

// maxFormBytes caps the ACS request body: a base64 MaxResponseBytes plus
// room for RelayState and form encoding.
const maxFormBytes = MaxResponseBytes*4/3 + 16<<10

// Finish verifies the Response the IdP posted to the ACS (HTTP-POST
// binding, SAML Bindings §3.5) and returns the identity it asserts. state
// is what Begin returned, or nil for an unsolicited (IdP-initiated)
// response, which only a connection with AllowIdPInitiated accepts. Every
// refusal is a *Rejection; the checks are listed in doc.go.
func (c *Connector) Finish(ctx context.Context, r *http.Request, state []byte) (id federation.Identity, err error) {
	now := c.cfg.Now()
	requestID := ""
	if state == nil {
		if !c.cfg.AllowIdPInitiated {
			return id, reject(CodeIdPInitiatedDisabled, "unsolicited response (no pending AuthnRequest) and the connection does not allow IdP-initiated sign-in")
		}
	} else {
		st, err := c.decodeState(state)
		if err != nil {
			return id, err
		}
		requestID = st.RequestID
	}
	raw, rej := readResponse(r)
	if rej != nil {
		return id, rej
	}
	return c.finishXML(ctx, raw, requestID, now)
}

// readResponse takes the decoded SAMLResponse from a POSTed form.
func readResponse(r *http.Request) ([]byte, *Rejection) {
	if r.Method != http.MethodPost {
		return nil, reject(CodeUnsupportedBinding, "%s to the ACS: responses come by HTTP-POST only", r.Method)
	}
	if r.Body == nil {
		return nil, reject(CodeMalformed, "empty request body")
	}
	body := http.MaxBytesReader(nil, r.Body, maxFormBytes)
	r.Body = body
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, reject(CodeTooLarge, "ACS request body over %d bytes", maxFormBytes)
		}
		return nil, &Rejection{Code: CodeMalformed, Reason: fmt.Sprintf("unreadable form: %v", err), Err: err}
	}
	form := r.PostForm
	if form.Get("SAMLart") != "" || r.URL.Query().Get("SAMLart") != "" {
		return nil, reject(CodeUnsupportedBinding, "HTTP-Artifact response: only HTTP-POST is accepted")
	}
	if form.Get("SigAlg") != "" || form.Get("Signature") != "" {
		return nil, reject(CodeUnsupportedBinding, "HTTP-POST-SimpleSign response: only HTTP-POST with XML signatures is accepted")
	}
	values := form["SAMLResponse"]
	switch {
	case len(values) == 0 || values[0] == "":
		return nil, reject(CodeMalformed, "no SAMLResponse in the posted form")
	case len(values) > 1:
		return nil, reject(CodeMalformed, "%d SAMLResponse fields in the posted form", len(values))
	}
	// Some IdPs wrap the base64 at 76 columns.
	enc := strings.Join(strings.Fields(values[0]), "")
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return nil, &Rejection{Code: CodeMalformed, Reason: fmt.Sprintf("SAMLResponse is not base64: %v", err), Err: err}
	}
	return raw, nil
}

// finishXML is Finish after the binding: raw is the Response XML,
// requestID the pending AuthnRequest's id ("" when unsolicited).
func (c *Connector) finishXML(ctx context.Context, raw []byte, requestID string, now time.Time) (federation.Identity, error) {
	id, assertion, rej := c.validate(raw, requestID, now)
	if rej != nil {
		return federation.Identity{}, rej
	}
	// Last, so that only an assertion that passed everything is spent.
	fresh, err := c.cfg.Replay.Remember(ctx, string(c.cfg.ConnectionID), assertion.ID, c.replayUntil(assertion, now))
	if err != nil {
		return federation.Identity{}, &Rejection{Code: CodeReplayUnavailable, Reason: fmt.Sprintf("cannot record assertion %q as used: %v", assertion.ID, err), Err: err}
	}
	if !fresh {
		return federation.Identity{}, reject(CodeReplayed, "assertion %q was already used", assertion.ID)
	}
	return id, nil
}

// validate is finishXML up to the replay record: the identity the
// Response asserts and the verified assertion it comes from.
func (c *Connector) validate(raw []byte, requestID string, now time.Time) (federation.Identity, *saml.Assertion, *Rejection) {
	return c.validateBy(raw, requestID, now, false)
}

// validateBy is validate; viaCrewjam sends every shape through crewjam,
// as the differential test compares. A panic anywhere on the way is a
// refusal, never a crash (SAML-18).
func (c *Connector) validateBy(raw []byte, requestID string, now time.Time, viaCrewjam bool) (id federation.Identity, a *saml.Assertion, rej *Rejection) {
	defer func() {
		if p := recover(); p != nil {
			id, a, rej = federation.Identity{}, nil, reject(CodeMalformed, "panic while validating this response: %v", p)
		}
	}()
	if requestID == "" && !c.cfg.AllowIdPInitiated {
		return id, nil, reject(CodeIdPInitiatedDisabled, "unsolicited response (no pending AuthnRequest) and the connection does not allow IdP-initiated sign-in")
	}
	sh, rej := precheck(raw)
	if rej != nil {
		return id, nil, rej
	}
	if rej := c.checkResponse(sh, requestID); rej != nil {
		return id, nil, rej
	}
	if rej := c.checkSigned(raw, sh); rej != nil {
		return id, nil, rej
	}
	own := false
	if !viaCrewjam && ownShape(sh) {
		a, own, rej = c.verifyOwn(sh)
		if rej != nil {
			return id, nil, rej
		}
	}
	if !own {
		if a, rej = c.verify(raw, sh, requestID, now); rej != nil {
			return id, nil, rej
		}
	}
	if rej := c.checkAssertion(a, requestID, now); rej != nil {
		return id, nil, rej
	}
	if own {
		if rej := checkResponseAsCrewjam(sh, now); rej != nil {
			return id, nil, rej
		}
	}
	if id, rej = c.identity(a); rej != nil {
		return federation.Identity{}, nil, rej
	}
	return id, a, nil
}

// checkResponse applies the Response-level rules to what precheck read.
// The Response's attributes are covered by its signature when it has one,
// so they are the verified values then; unsigned, they only ever refuse.
func (c *Connector) checkResponse(sh shape, requestID string) *Rejection {
	if sh.responseSigned && sh.destination == nil {
		return reject(CodeDestinationMismatch, "signed Response has no Destination (SAML Bindings §3.5.5.2)")
	}
	if sh.destination != nil && *sh.destination != c.cfg.ACSURL {
		return reject(CodeDestinationMismatch, "destination mismatch: got %q, want %q", *sh.destination, c.cfg.ACSURL)
	}
	if sh.responseSigned && sh.responseIssuer == nil {
		return reject(CodeIssuerMismatch, "signed Response has no Issuer")
	}
	if sh.responseIssuer != nil && *sh.responseIssuer != c.cfg.IdP.EntityID {
		return reject(CodeIssuerMismatch, "issuer mismatch: Response Issuer %q, want %q", *sh.responseIssuer, c.cfg.IdP.EntityID)
	}
	return checkInResponseTo("Response", sh.inResponseTo, requestID)
}

// checkSigned applies the signing policy before any signature is
// verified: something must be signed, and the Assertion itself unless
// AllowUnsignedAssertion. An encrypted assertion is opened to see (and to
// precheck what it holds); one that no SP key opens is left to crewjam,
// which refuses it (decryption_failed).
func (c *Connector) checkSigned(raw []byte, sh shape) *Rejection {
	assertionSigned := sh.assertionSigned
	if sh.encrypted {
		plain := decryptedAssertion(raw, c.cfg.Keys)
		if plain == nil {
			return nil
		}
		signed, rej := precheckDecrypted(plain)
		if rej != nil {
			return rej
		}
		assertionSigned = signed
	}
	switch {
	case !assertionSigned && !sh.responseSigned:
		return reject(CodeUnsigned, "neither the Response nor the Assertion is signed")
	case !assertionSigned && !c.cfg.AllowUnsignedAssertion:
		return reject(CodeUnsigned, "the Assertion is not signed, only the Response; the connection requires signed assertions (AllowUnsignedAssertion)")
	}
	return nil
}

// checkInResponseTo: an answer to a request names it (SAML Profiles
// §4.1.4.2), and an unsolicited one names none.
func checkInResponseTo(what, got, requestID string) *Rejection {
	switch {
	case requestID != "" && got == "":
		return reject(CodeInResponseToMismatch, "%s has no InResponseTo, but answers request %q", what, requestID)
	case requestID == "" && got != "":
		return reject(CodeInResponseToMismatch, "unsolicited response whose %s InResponseTo is %q: an answer to some other request", what, got)
	case requestID != "" && got != "" && got != requestID:
		return reject(CodeInResponseToMismatch, "%s InResponseTo mismatch: got %q, want %q", what, got, requestID)
	}
	return nil
}

// verify runs crewjam on raw with this connection's certificates and keys
// and returns the assertion it read from the verified bytes. A panic in
// the library is a refusal, never a crash (SAML-18).
func (c *Connector) verify(raw []byte, sh shape, requestID string, now time.Time) (a *saml.Assertion, rej *Rejection) {
	defer func() {
		if p := recover(); p != nil {
			a, rej = nil, reject(CodeMalformed, "the SAML library panicked on this response: %v", p)
		}
	}()
	sp := c.serviceProvider(now)
	var possible []string
	if requestID != "" {
		possible = []string{requestID}
	}
	assertion, err := sp.ParseXMLResponse(raw, possible, c.acs)
	if err != nil {
		return nil, c.classify(err, raw, sh, requestID, now)
	}
	return assertion, nil
}

// classify turns crewjam's error into a Rejection. Unless the signature
// or the decryption failed, checkAssertion's reason (computed on the
// response as received, only to explain a refusal) is preferred: it is
// more precise, and names the rule as this package states it.
func (c *Connector) classify(err error, raw []byte, sh shape, requestID string, now time.Time) *Rejection {
	cause := err
	var ivr *saml.InvalidResponseError
	if errors.As(err, &ivr) && ivr.PrivateErr != nil {
		cause = ivr.PrivateErr
	}
	var bad saml.ErrBadStatus
	code := CodeMalformed
	switch {
	case errors.As(cause, &bad):
		code = CodeStatus
	case errors.Is(cause, saml.ErrUntrustedCertificate):
		signers := sh.unknownSigners(c.cfg.IdP.Certificates)
		reason := "signature by a certificate that is not one of this connection's IdP certificates"
		if len(signers) > 0 {
			reason = "signature by an unknown certificate (sha256 fingerprint " + strings.Join(signers, ", ") + ")"
		}
		return &Rejection{Code: CodeUnknownCertificate, Reason: reason, Err: cause}
	case errors.Is(cause, saml.ErrInvalidSignature) && errors.Is(cause, saml.ErrUnsupported):
		code = CodeWeakAlgorithm
	case strings.Contains(cause.Error(), "signature element not present"):
		code = CodeUnsigned
	case errors.Is(cause, saml.ErrInvalidSignature):
		code = CodeSignatureInvalid
	case errors.Is(cause, saml.ErrDecryptionFailed):
		code = CodeDecryptionFailed
	case errors.Is(cause, saml.ErrIssuerMismatch):
		code = CodeIssuerMismatch
	case errors.Is(cause, saml.ErrAudienceMismatch):
		code = CodeAudienceMismatch
	case errors.Is(cause, saml.ErrDestinationMismatch):
		code = CodeDestinationMismatch
		if strings.Contains(cause.Error(), "Recipient") {
			code = CodeRecipientMismatch
		}
	case errors.Is(cause, saml.ErrRequestIDMismatch):
		code = CodeInResponseToMismatch
	case errors.Is(cause, saml.ErrExpired):
		code = CodeExpired
	case errors.Is(cause, saml.ErrNotYetValid):
		code = CodeNotYetValid
	case errors.Is(cause, saml.ErrMissingElement):
		// crewjam names the missing element only in its message.
		switch msg := cause.Error(); {
		case strings.Contains(msg, "SubjectConfirmation"):
			code = CodeSubjectConfirmation
		case strings.Contains(msg, "Subject"):
			code = CodeNoSubject
		case strings.Contains(msg, "none found"):
			code = CodeNoAssertion
		}
	}
	switch code {
	case CodeSignatureInvalid, CodeWeakAlgorithm, CodeUnsigned, CodeDecryptionFailed, CodeStatus:
	default:
		if a := receivedAssertion(raw); a != nil {
			if r := c.checkAssertion(a, requestID, now); r != nil {
				r.Err = cause
				return r
			}
		}
	}
	return &Rejection{Code: code, Reason: cause.Error(), Err: cause}
}

// receivedAssertion is the plaintext assertion as received, read only to
// explain a refusal; nil when it is encrypted or unreadable.
func receivedAssertion(raw []byte) *saml.Assertion {
	var resp struct {
		Assertion *saml.Assertion `xml:"urn:oasis:names:tc:SAML:2.0:assertion Assertion"`
	}
	if err := xml.Unmarshal(raw, &resp); err != nil {
		return nil
	}
	return resp.Assertion
}
