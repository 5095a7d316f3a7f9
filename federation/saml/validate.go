package saml

import (
	"strings"
	"time"

	"github.com/crewjam/saml"
)

const bearer = "urn:oasis:names:tc:SAML:2.0:cm:bearer"

// maxIssueDelay is how old an assertion may be when it arrives, by its
// IssueInstant and with no allowance for skew: crewjam's MaxIssueDelay
// default, which crewjam applied to every assertion this package accepted
// before it had a path of its own, and which checkAssertion now applies on
// both.
const maxIssueDelay = 90 * time.Second

// checkAssertion applies this package's rules to an assertion, whatever
// crewjam checked: it is the last word on what is accepted, reads the
// time from Config.Now, and allows at most MaxClockSkew.
func (c *Connector) checkAssertion(a *saml.Assertion, requestID string, now time.Time) *Rejection {
	if a.Issuer.Value != c.cfg.IdP.EntityID {
		return reject(CodeIssuerMismatch, "issuer mismatch: Assertion Issuer %q, want %q", a.Issuer.Value, c.cfg.IdP.EntityID)
	}
	if a.ID == "" {
		return reject(CodeMalformed, "assertion has no ID")
	}
	if deadline := a.IssueInstant.Add(maxIssueDelay); deadline.Before(now) {
		return reject(CodeExpired, "assertion issued %v ago, more than %v", now.Sub(a.IssueInstant).Round(time.Second), maxIssueDelay)
	}
	if a.IssueInstant.After(now.Add(c.skew)) {
		return reject(CodeNotYetValid, "assertion issued %v in the future", a.IssueInstant.Sub(now).Round(time.Second))
	}
	if a.Subject == nil || a.Subject.NameID == nil || strings.TrimSpace(a.Subject.NameID.Value) == "" {
		return reject(CodeNoSubject, "assertion has no Subject NameID")
	}
	if a.Conditions == nil {
		return reject(CodeAudienceMismatch, "assertion has no Conditions, so no AudienceRestriction")
	}
	if r := c.checkWindow("assertion Conditions", a.Conditions.NotBefore, a.Conditions.NotOnOrAfter, now); r != nil {
		return r
	}
	if r := c.checkAudience(a.Conditions); r != nil {
		return r
	}
	if r := c.checkBearer(a.Subject, requestID, now); r != nil {
		return r
	}
	// crewjam's validateAssertion rules that the ones above do not make.
	if a.Version != "2.0" {
		return reject(CodeMalformed, "assertion Version %q is not 2.0", a.Version)
	}
	if len(a.AuthnStatements) == 0 {
		// SAML Profiles §4.1.4.2: an assertion that is not about an
		// authentication is not a sign-in.
		return reject(CodeMalformed, "assertion has no AuthnStatement")
	}
	return nil
}

// checkAudience requires an AudienceRestriction (SAML Core §2.5.1.4: one
// that is absent restricts nothing) and that each one names this SP.
func (c *Connector) checkAudience(cond *saml.Conditions) *Rejection {
	if len(cond.AudienceRestrictions) == 0 {
		return reject(CodeAudienceMismatch, "assertion has no AudienceRestriction; want one naming %q", c.cfg.SPEntityID)
	}
	for _, ar := range cond.AudienceRestrictions {
		var got []string
		ok := false
		for _, aud := range ar.AllAudiences() {
			got = append(got, aud.Value)
			ok = ok || aud.Value == c.cfg.SPEntityID
		}
		if !ok {
			return reject(CodeAudienceMismatch, "audience mismatch: got %q, want %q", strings.Join(got, " "), c.cfg.SPEntityID)
		}
	}
	return nil
}

// checkBearer requires a bearer SubjectConfirmation whose data names the
// ACS, this request and a live window (SAML Profiles §4.1.4.2); every
// bearer confirmation present must pass, so none can be smuggled beside a
// good one.
func (c *Connector) checkBearer(sub *saml.Subject, requestID string, now time.Time) *Rejection {
	n := 0
	for _, sc := range sub.SubjectConfirmations {
		if sc.Method != bearer {
			continue
		}
		n++
		d := sc.SubjectConfirmationData
		if d == nil {
			return reject(CodeSubjectConfirmation, "bearer SubjectConfirmation has no SubjectConfirmationData")
		}
		if d.Recipient != c.cfg.ACSURL {
			return reject(CodeRecipientMismatch, "recipient mismatch: got %q, want %q", d.Recipient, c.cfg.ACSURL)
		}
		if r := checkInResponseTo("SubjectConfirmationData", d.InResponseTo, requestID); r != nil {
			return r
		}
		if d.NotOnOrAfter.IsZero() {
			return reject(CodeSubjectConfirmation, "bearer SubjectConfirmationData has no NotOnOrAfter")
		}
		if r := c.checkWindow("SubjectConfirmationData", d.NotBefore, d.NotOnOrAfter, now); r != nil {
			return r
		}
	}
	if n == 0 {
		return reject(CodeSubjectConfirmation, "assertion has no bearer SubjectConfirmation")
	}
	return nil
}

// checkWindow checks now against [notBefore, notOnOrAfter) widened by the
// skew; zero bounds are open.
func (c *Connector) checkWindow(what string, notBefore, notOnOrAfter, now time.Time) *Rejection {
	if !notBefore.IsZero() && now.Add(c.skew).Before(notBefore) {
		return reject(CodeNotYetValid, "%s not yet valid: valid from %s, %v from now", what, notBefore.UTC().Format(time.RFC3339), notBefore.Sub(now).Round(time.Second))
	}
	if !notOnOrAfter.IsZero() && !now.Add(-c.skew).Before(notOnOrAfter) {
		return reject(CodeExpired, "%s expired %v ago", what, now.Sub(notOnOrAfter).Round(time.Second))
	}
	return nil
}

// replayUntil is how long the assertion id must stay recorded: until no
// window would accept it any more, skew included.
func (c *Connector) replayUntil(a *saml.Assertion, now time.Time) time.Time {
	until := a.IssueInstant.Add(maxIssueDelay)
	if a.Conditions != nil && a.Conditions.NotOnOrAfter.After(until) {
		until = a.Conditions.NotOnOrAfter
	}
	if a.Subject != nil {
		for _, sc := range a.Subject.SubjectConfirmations {
			if d := sc.SubjectConfirmationData; d != nil && d.NotOnOrAfter.After(until) {
				until = d.NotOnOrAfter
			}
		}
	}
	if until.Before(now) {
		until = now
	}
	return until.Add(c.skew)
}
