// Package saml is the SAML 2.0 service provider for one organization's
// connection: it implements federation.Connector (Begin sends a signed
// AuthnRequest, Finish verifies the Response posted to the ACS and returns
// the asserted federation.Identity), publishes the SP metadata, and reads
// an IdP's metadata. It takes plain values (Config); storing connections,
// keys and the replay record is the caller's.
//
// It is built on github.com/crewjam/saml v0.6.3, the newest version the
// module proxy serves here. v0.6.3 over v0.5.1 because it reads a signed
// message from the bytes goxmldsig verified (not as received), takes the
// clock per ServiceProvider (Clock) instead of only the global TimeNow,
// requires an AudienceRestriction by default, reads NameID, statements
// and attributes only in the SAML assertion namespace (the namespace half
// of GO-2026-6909), refuses a Subject without an identifier instead of
// dereferencing nil, can refuse SHA-1 signatures (RejectSHA1Signatures),
// and tries several decryption keys (DecryptionKeys) — all of which v0.5.1
// lacks (SECURITY-CHECKLIST SAML-18 lists what v0.5.1 let through). It
// keeps the encoding/xml round-trip check of
// mattermost/xml-roundtrip-validator as its own internal copy and runs it
// first thing on every Response and every decrypted assertion it parses.
// A Response is therefore round-trip checked once on its way to an
// acceptance, by crewjam (TestCrewjamRoundTripCheck keeps that true);
// this package runs the original validator where it names the reason of
// a refusal, and on every IdP metadata document it reads.
//
// Crewjam is not trusted alone: Finish wraps it (finish.go) in checks of
// its own that do not depend on crewjam's defaults or its global clock
// variables:
//
//   - before parsing (precheck.go): a size cap, no DOCTYPE, comment,
//     CDATA section or processing instruction anywhere (SAML-03, SAML-10),
//     the round-trip check (SAML-11: crewjam's before acceptance, the
//     original validator to name a refusal), depth and element caps
//     (SAML-12), exactly one Response root holding exactly one Assertion
//     or EncryptedAssertion in the whole document (SAML-01, SAML-02), at
//     most one ds:Signature per element and only as its direct child
//     (SAML-04), at most one Issuer, Subject, Conditions, NameID and
//     SubjectConfirmationData where a reader could pick one, every
//     NameID in the SAML assertion namespace (SAML-09, GO-2026-6909), an
//     Issuer in every assertion (GO-2026-6909's nil-Issuer panic), and a
//     signed Response names its Destination and Issuer (SAML-08); an EncryptedAssertion is opened with the SP keys
//     and its plaintext goes through the same checks (SAML-13 d);
//   - the signing policy (finish.go): the Assertion must be signed by
//     itself unless Config.AllowUnsignedAssertion lets a signed Response
//     cover it (SAML-04);
//   - crewjam's ParseXMLResponse under recover, with this connection's
//     certificates only, SHA-1 refused, every SP key for decryption;
//   - after it (validate.go), on the assertion crewjam read from the
//     verified bytes: the Issuer, an AudienceRestriction naming the SP, a
//     bearer SubjectConfirmationData whose Recipient is the ACS URL and
//     whose InResponseTo is this request, every time window at
//     MaxClockSkew (at most two minutes) read from Config.Now, no
//     duplicated identity attribute (SAML-09), and last the single-use
//     record of the assertion id (Config.Replay, SAML-07).
//
// Only the HTTP-POST binding reaches Finish: artifacts and SimpleSign are
// refused. RelayState is sent as given (an opaque token of the web layer,
// which finds its attempt by it and binds the login to the browser) and
// never read here (SAML-14).
//
// Every refusal is a *Rejection with a stable Code for the audit log and a
// precise Reason for the connection's test results; neither is for the
// browser.
//
// Algorithms (SAML-06): signatures must be RSA or ECDSA with SHA-256 or
// stronger; SHA-1 is refused outright. Every IdP vendor this package has
// presets for signs with SHA-256 by default, and SHA-1 signatures are
// forgeable by chosen-prefix collision, so a legacy opt-in would be a
// tenant-controlled bypass with no customer that needs it. HMAC signature
// methods never verify (goxmldsig has no HMAC). Certificate dates are not
// checked (SAML-05 e): the IdP's certificates are trust anchors because
// the connection names them, as the SAML V2.0 Metadata Interoperability
// Profile has it; replacing one is the admin's rotation.
package saml
