// Package saml is the SAML 2.0 service provider for one organization's
// connection: it implements federation.Connector (Begin sends a signed
// AuthnRequest, Finish verifies the Response posted to the ACS and returns
// the asserted federation.Identity), publishes the SP metadata, and reads
// an IdP's metadata. It takes plain values (Config); storing connections,
// keys and the replay record is the caller's.
//
// # Two verification paths, one set of rules
//
// Finish parses a Response once, with etree, and checks its structure on
// that tree (precheck.go). Then one of two paths verifies the signature
// and reads the assertion:
//
//   - this package's own (verify.go, read.go), for the main shape: a
//     plaintext Assertion signed by itself (enveloped signature, exclusive
//     c14n, one Reference to the Assertion's ID) in an unsigned Response
//     with no encrypted part. goxmldsig verifies the Assertion with a
//     validation context made once per Connector over the connection's
//     IdP certificates (several, for rollover), and readAssertion reads
//     the element goxmldsig returns;
//   - github.com/crewjam/saml v0.6.3's ParseXMLResponse for every other
//     shape (a signed Response, an EncryptedAssertion, an EncryptedID or
//     EncryptedAttribute, other transforms or canonicalizations), as
//     before; it re-parses the bytes itself.
//
// Both paths sit between the same rules: precheck before, checkResponse
// and the signing policy, then checkAssertion, the identity mapping and
// the replay record after. differential_test.go (TestDifferential,
// FuzzDifferential, seeded with the attack suite's responses) holds that
// the two accept and refuse the same responses and read the same
// identity.
//
// v0.6.3 over v0.5.1 because it reads a signed message from the bytes
// goxmldsig verified (not as received), takes the clock per
// ServiceProvider, requires an AudienceRestriction by default, reads
// NameID, statements and attributes only in the SAML assertion namespace
// (the namespace half of GO-2026-6909), refuses a Subject without an
// identifier instead of dereferencing nil, can refuse SHA-1 signatures,
// and tries several decryption keys — all of which v0.5.1 lacks
// (SECURITY-CHECKLIST SAML-18 lists what v0.5.1 let through).
//
// # Reading what was verified
//
// The XML signature bypasses of 2020 (CVE-2020-29509/29510/29511,
// crewjam's CVE-2020-27846, SAML-11) needed two readers: goxmldsig
// verified the document etree parsed, and the values were then read by
// serializing that tree again and decoding it with encoding/xml, whose
// decode→encode round trip changed some namespace prefixes, so that the
// second reader saw a different document from the one whose digest was
// checked. The round-trip check (mattermost/xml-roundtrip-validator,
// crewjam's internal copy) refuses every document on which that second
// reading could differ. It is needed wherever a signed document is read
// by one parser and its values by another, after a re-encoding.
//
// This package's own path has no second reader and no re-encoding.
// goxmldsig's Validate canonicalizes the Assertion (exclusive c14n),
// checks the digest of those canonical bytes, checks the SignedInfo
// signature with a trusted certificate, and returns the root of a new
// etree document parsed from exactly the canonical bytes it digested.
// readAssertion reads every value — Issuer, ID, Version, IssueInstant,
// Subject, NameID, SubjectConfirmation(Data), Conditions, audiences,
// AuthnStatements and their class references, attributes — from that
// element and its descendants, and from nothing else: never the tree as
// received, never by a path lookup from the Response. So the bytes
// verified and the bytes read are the same bytes, read by the same
// parser; a reading that differs from what the IdP signed would need
// etree to parse one canonical document two ways. Names are resolved on
// that element to namespace URIs (never compared by prefix) with the
// resolution encoding/xml uses, so that a NameID or an Attribute in a
// foreign namespace is not read (GO-2026-6909), as crewjam does not read
// it either. The Response around the Assertion is unsigned on this path:
// what is read from it (Destination, InResponseTo, Issuer, Status,
// Version, IssueInstant) only ever refuses.
//
// The structure rules read the tree as received, and only refuse. The
// canonical form never contains a comment, a CDATA section (precheck
// refuses both, and a DOCTYPE, before parsing) or a name that is not a
// namespace-well-formed QName (refused by precheck, as the names the
// round-trip validator lets through are), and precheck caps the namespace
// declarations in scope as crewjam's check does. So no round-trip check
// runs on this path; mattermost's validator checks IdP metadata only
// (precheck.go, roundTrip).
//
// # What crewjam checked, and where it now lives
//
// Each check ParseXMLResponse (parseResponse, parseReceivedAssertion,
// validateAssertion) makes, and where this package's path makes it:
//
//   - round-trip check of the raw bytes: not needed (above); precheck's
//     QName rule, caps (depth 32 < its 64; 64 namespace declarations in
//     scope, as its) and syntax errors refuse what it refused;
//   - etree parse: precheck (one parse, UTF-8 only, repeated attributes
//     refused);
//   - Response signature, when present: not this path's (crewjam's path);
//   - Response Version "2.0" and IssueInstant within MaxIssueDelay (90 s)
//     and MaxClockSkew (180 s): checkResponseAsCrewjam (verify.go);
//   - Destination when signed or present: checkResponse (finish.go);
//   - InResponseTo of a pending request, none when unsolicited and
//     allowed: checkResponse, and validateBy refuses a response with no
//     pending request unless AllowIdPInitiated (Finish does too);
//   - Response Issuer, if present: checkResponse (compared untrimmed, as
//     crewjam compares it);
//   - Status Success: precheck (every top-level StatusCode, exactly one
//     Status);
//   - at most one Assertion when the Response is unsigned: precheck
//     (exactly one, signed or not);
//   - Assertion signature, SHA-1 refused: verifyOwn with the connection's
//     trust; precheck allows SHA-2 RSA/ECDSA and the two c14n families
//     only; a KeyInfo without X509Certificate is dropped and each
//     certificate tried alone; certificate dates ignored (SAML-05 e);
//   - exactly one Reference whose one unprefixed URI is "#" + the
//     Assertion's ID (checkSignatureReference): verifyOwn;
//   - reading from the verified element (unmarshalElement after
//     validatedElement): readAssertion, from goxmldsig's element;
//   - EncryptedID and EncryptedAttribute decryption: crewjam's path only;
//   - Assertion Version "2.0", an AuthnStatement, IssueInstant no more
//     than 90 s old (no skew) and not in the future, Issuer, Subject with
//     an identifier (BaseID refused), Conditions, audience, bearer
//     SubjectConfirmationData (Recipient, InResponseTo, NotBefore,
//     NotOnOrAfter), Conditions NotBefore/NotOnOrAfter: checkAssertion
//     (validate.go), on both paths, at this package's skew (at most two
//     minutes, stricter than crewjam's three) and requiring every bearer
//     confirmation to pass (crewjam: any one);
//   - unknown Conditions: ignored, as crewjam does with
//     RejectUnknownConditions off;
//   - a time, ProxyRestriction Count or xsi:nil that does not parse
//     refuses the assertion: readAssertion, as crewjam's decoding does;
//   - replay: Config.Replay after everything else (crewjam has none set).
//
// # The rules around both paths
//
//   - before parsing (precheck.go): a size cap, no DOCTYPE, comment,
//     CDATA section or processing instruction anywhere (SAML-03, SAML-10);
//     then on the parsed tree: depth, element and namespace caps
//     (SAML-12), names that are QNames (SAML-11), no repeated attribute
//     and no attribute in the xml or xsi namespace they do not define,
//     exactly one Response root holding exactly one Assertion or
//     EncryptedAssertion in the whole document (SAML-01, SAML-02), at
//     most one ds:Signature per element and only as its direct child
//     (SAML-04), SHA-2 algorithms only (SAML-06), at most one Issuer,
//     Subject, Conditions, NameID, SubjectConfirmationData and Status
//     where a reader could pick one, every NameID in the SAML assertion
//     namespace (SAML-09, GO-2026-6909), an Issuer in every assertion
//     (GO-2026-6909's nil-Issuer panic), and a signed Response names its
//     Destination and Issuer (SAML-08); an EncryptedAssertion is opened
//     with the SP keys and its plaintext goes through the same checks
//     (SAML-13 d);
//   - the signing policy (finish.go): the Assertion must be signed by
//     itself unless Config.AllowUnsignedAssertion lets a signed Response
//     cover it (SAML-04);
//   - after verification (validate.go), on the assertion read from the
//     verified element: the Issuer, an AudienceRestriction naming the SP,
//     a bearer SubjectConfirmationData whose Recipient is the ACS URL and
//     whose InResponseTo is this request, every time window at
//     MaxClockSkew (at most two minutes) read from Config.Now, no
//     duplicated identity attribute (SAML-09), and last the single-use
//     record of the assertion id (Config.Replay, SAML-07).
//
// A panic on either path is a refusal, never a crash (SAML-18).
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
