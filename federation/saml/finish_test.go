package saml

import (
	"errors"

	"github.com/beevik/etree"
	"slices"
	"testing"
	"time"
)

// TestFinishAcceptsEachSigningMode: a valid answer is accepted whether the
// IdP signs the Assertion, the Response or both, and with either of the
// IdP's published certificates (SAML-05 d).
func TestFinishAcceptsEachSigningMode(t *testing.T) {
	for _, tc := range []struct {
		name                string
		response, assertion bool
		key                 string
	}{
		{"assertion signed", false, true, "idp"},
		{"response signed", true, false, "idp"},
		{"both signed", true, true, "idp"},
		{"rolled-over certificate", false, true, "idp-next"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(c *Config) { c.AllowUnsignedAssertion = !tc.assertion })
			state, rid := f.begin()
			o := f.defaults(rid)
			o.signResponse, o.signAssertion, o.key = tc.response, tc.assertion, testKey(t, tc.key)
			b := f.bytes(o)
			id, err := f.finish(b, state)
			if err != nil {
				t.Fatal(err)
			}
			// The acceptance invariant: the subject is inside bytes whose
			// signature goxmldsig verifies on its own.
			if !signedSubject(b, f.cfg.IdP.Certificates, nil, f.clock.Now(), id.Subject) {
				t.Fatalf("subject %q is not in verified bytes", id.Subject)
			}
			if id.Subject != "alice@tenant-a.test" || id.Email != "alice@tenant-a.test" || id.GivenName != "Alice" ||
				id.FamilyName != "Liddell" || id.Name != "Alice Liddell" || !slices.Equal(id.Groups, []string{"engineering", "admins"}) {
				t.Fatalf("identity %+v", id)
			}
			if id.ConnectionID != f.cfg.ConnectionID || id.EmailVerified {
				t.Fatalf("connection %q, email verified %v", id.ConnectionID, id.EmailVerified)
			}
			if got := f.cfg.Mapping.CustomValues(id.Attributes); !slices.Equal(got["department"], []string{"R&D"}) {
				t.Fatalf("custom values %v", got)
			}
			if id.AuthTime.IsZero() || !slices.Equal(id.AMR, []string{"pwd"}) {
				t.Fatalf("auth time %v, AMR %v", id.AuthTime, id.AMR)
			}
		})
	}
}

// TestFinishRequiresSignedAssertion: without AllowUnsignedAssertion a
// signed Response around an unsigned Assertion, plain or encrypted, is
// refused (SAML-04).
func TestFinishRequiresSignedAssertion(t *testing.T) {
	for _, encrypted := range []bool{false, true} {
		f := newFixture(t)
		state, rid := f.begin()
		o := f.defaults(rid)
		o.signResponse, o.signAssertion = true, false
		if encrypted {
			o.encryptTo = testKey(t, "sp").Certificate
		}
		_, err := f.finish(f.bytes(o), state)
		wantCode(t, err, CodeUnsigned)
	}
}

// TestFinishTimeWindows checks the boundaries at the configured skew
// (SAML-08): the clock moves, the response does not.
func TestFinishTimeWindows(t *testing.T) {
	const skew = 2 * time.Minute
	for _, tc := range []struct {
		name  string
		shift time.Duration // SP clock relative to the IdP's
		edit  func(o *resp, now time.Time)
		code  string
	}{
		{"NotOnOrAfter one second inside the skew", 0, func(o *resp, now time.Time) {
			o.notOnOrAfter = now.Add(-skew + time.Second)
			o.issued = now.Add(-time.Minute)
		}, ""},
		{"NotOnOrAfter at the skew", 0, func(o *resp, now time.Time) {
			o.notOnOrAfter = now.Add(-skew)
			o.issued = now.Add(-time.Minute)
		}, CodeExpired},
		{"NotOnOrAfter past the skew", 0, func(o *resp, now time.Time) {
			o.notOnOrAfter = now.Add(-skew - time.Second)
			o.issued = now.Add(-time.Minute)
		}, CodeExpired},
		{"NotBefore at the skew", 0, func(o *resp, now time.Time) { o.notBefore = now.Add(skew) }, ""},
		{"NotBefore past the skew", 0, func(o *resp, now time.Time) { o.notBefore = now.Add(skew + time.Second) }, CodeNotYetValid},
		{"issued in the future", 0, func(o *resp, now time.Time) { o.issued = now.Add(skew + time.Second) }, CodeNotYetValid},
		{"issued too long ago", 0, func(o *resp, now time.Time) { o.issued = now.Add(-maxIssueDelay - skew - time.Second) }, CodeExpired},
		{"SP clock ten minutes ahead", 10 * time.Minute, func(*resp, time.Time) {}, CodeExpired},
		{"SP clock ten minutes behind", -10 * time.Minute, func(*resp, time.Time) {}, CodeNotYetValid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			state, rid := f.begin()
			o := f.defaults(rid)
			tc.edit(o, f.clock.Now())
			b := f.bytes(o)
			f.clock.Advance(tc.shift)
			_, err := f.finish(b, state)
			if tc.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantCode(t, err, tc.code)
		})
	}
}

// TestFinishRejectsMisaddressed: one wrong field per case, re-signed, so
// that only that check can refuse it (SAML-08, SAML-15).
func TestFinishRejectsMisaddressed(t *testing.T) {
	str := func(s string) *string { return &s }
	for _, tc := range []struct {
		name string
		edit func(o *resp, f *fixture)
		code string
	}{
		{"audience of tenant B", func(o *resp, _ *fixture) {
			o.audience = []string{"https://auth.gatehouse.test/sso/saml/conn_B/metadata"}
		}, CodeAudienceMismatch},
		{"no AudienceRestriction", func(o *resp, _ *fixture) { o.noAudience = true }, CodeAudienceMismatch},
		{"recipient of tenant B", func(o *resp, _ *fixture) { o.recipient = "https://auth.gatehouse.test/sso/saml/conn_B/acs" }, CodeRecipientMismatch},
		{"destination of tenant B", func(o *resp, _ *fixture) {
			o.destination = str("https://auth.gatehouse.test/sso/saml/conn_B/acs")
		}, CodeDestinationMismatch},
		{"signed response without destination", func(o *resp, _ *fixture) { o.destination, o.signResponse = nil, true }, CodeDestinationMismatch},
		{"InResponseTo of another request", func(o *resp, f *fixture) { _, other := f.begin(); o.inResponseTo = other }, CodeInResponseToMismatch},
		{"assertion InResponseTo of another request", func(o *resp, f *fixture) { _, other := f.begin(); o.scdInResponse = &other }, CodeInResponseToMismatch},
		{"solicited but naming no request", func(o *resp, _ *fixture) { o.inResponseTo = "" }, CodeInResponseToMismatch},
		{"assertion naming no request", func(o *resp, _ *fixture) { empty := ""; o.scdInResponse = &empty }, CodeInResponseToMismatch},
		{"issuer of another IdP", func(o *resp, _ *fixture) { o.issuer = "https://idp.tenant-b.test/saml" }, CodeIssuerMismatch},
		{"signed by tenant B's IdP", func(o *resp, f *fixture) { o.key = testKey(f.t, "other-idp") }, CodeUnknownCertificate},
		{"SHA-1 signature", func(o *resp, _ *fixture) { o.sha1 = true }, CodeWeakAlgorithm},
		{"unsigned", func(o *resp, _ *fixture) { o.signAssertion = false }, CodeUnsigned},
		{"holder-of-key, not bearer", func(o *resp, _ *fixture) {
			o.editAssertion = func(a *etree.Element) {
				a.FindElement(".//SubjectConfirmation").CreateAttr("Method", "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key")
			}
		}, CodeSubjectConfirmation},
		{"no SubjectConfirmationData", func(o *resp, _ *fixture) {
			o.editAssertion = func(a *etree.Element) {
				sc := a.FindElement(".//SubjectConfirmation")
				sc.RemoveChild(sc.FindElement("./SubjectConfirmationData"))
			}
		}, CodeSubjectConfirmation},
		{"no Subject", func(o *resp, _ *fixture) {
			o.editAssertion = func(a *etree.Element) { a.RemoveChild(a.FindElement("./Subject")) }
		}, CodeNoSubject},
		{"no Conditions", func(o *resp, _ *fixture) {
			o.editAssertion = func(a *etree.Element) { a.RemoveChild(a.FindElement("./Conditions")) }
		}, CodeAudienceMismatch},
		{"assertion Issuer of another IdP", func(o *resp, _ *fixture) {
			o.editAssertion = func(a *etree.Element) { a.FindElement("./Issuer").SetText("https://idp.tenant-b.test/saml") }
		}, CodeIssuerMismatch},
		{"signed Response without Issuer", func(o *resp, _ *fixture) {
			o.signResponse = true
			o.editResponse = func(r *etree.Element) { r.RemoveChild(r.FindElement("./Issuer")) }
		}, CodeIssuerMismatch},
		{"status Responder", func(o *resp, _ *fixture) {
			o.editResponse = func(r *etree.Element) {
				r.FindElement("./Status/StatusCode").CreateAttr("Value", "urn:oasis:names:tc:SAML:2.0:status:Responder")
			}
		}, CodeStatus},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			state, rid := f.begin()
			o := f.defaults(rid)
			tc.edit(o, f)
			_, err := f.finish(f.bytes(o), state)
			wantCode(t, err, tc.code)
		})
	}
}

// TestFinishReplay: an assertion is good once (SAML-07), including an
// unsolicited one, and a replay record that cannot be written refuses.
func TestFinishReplay(t *testing.T) {
	f := newFixture(t)
	state, rid := f.begin()
	b := f.bytes(f.defaults(rid))
	if _, err := f.finish(b, state); err != nil {
		t.Fatal(err)
	}
	_, err := f.finish(b, state)
	wantCode(t, err, CodeReplayed)

	f.replay.err = errors.New("redis: connection refused")
	state, rid = f.begin()
	_, err = f.finish(f.bytes(f.defaults(rid)), state)
	wantCode(t, err, CodeReplayUnavailable)
}

// TestFinishIdPInitiated: no state is refused unless the connection allows
// it; allowed, an unsolicited response must not name a request.
func TestFinishIdPInitiated(t *testing.T) {
	f := newFixture(t)
	_, err := f.finish(f.bytes(f.defaults("")), nil)
	wantCode(t, err, CodeIdPInitiatedDisabled)

	f = newFixture(t, func(c *Config) { c.AllowIdPInitiated = true })
	b := f.bytes(f.defaults(""))
	if _, err := f.finish(b, nil); err != nil {
		t.Fatal(err)
	}
	_, err = f.finish(b, nil)
	wantCode(t, err, CodeReplayed)

	_, rid := f.begin()
	_, err = f.finish(f.bytes(f.defaults(rid)), nil)
	wantCode(t, err, CodeInResponseToMismatch)
}

// TestFinishEncryptedAssertion: an assertion encrypted to the second
// (rotated-in) SP key is decrypted; one encrypted to a key the SP does
// not hold is refused.
func TestFinishEncryptedAssertion(t *testing.T) {
	f := newFixture(t)
	state, rid := f.begin()
	o := f.defaults(rid)
	o.encryptTo = testKey(t, "sp-next").Certificate
	id, err := f.finish(f.bytes(o), state)
	if err != nil {
		t.Fatal(err)
	}
	if id.Email != "alice@tenant-a.test" {
		t.Fatalf("identity %+v", id)
	}

	state, rid = f.begin()
	o = f.defaults(rid)
	o.encryptTo = testKey(t, "attacker").Certificate
	_, err = f.finish(f.bytes(o), state)
	wantCode(t, err, CodeDecryptionFailed)
}
