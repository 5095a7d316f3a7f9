package saml

import (
	"bytes"
	"crypto/rsa"

	"github.com/beevik/etree"
	"github.com/crewjam/saml/xmlenc"
)

// maxEncryptedKeys bounds the private-key operations one response can
// cost (each candidate is tried with each SP key).
const maxEncryptedKeys = 4

// decryptedAssertion opens the EncryptedAssertion of raw with the SP keys,
// so that the plaintext goes through the same structural checks as a
// plain assertion (SAML-13 d: a decrypted assertion may carry the same
// payloads). crewjam decrypts again to read it: this copy only ever
// refuses. nil when nothing opens it; crewjam then says why.
func decryptedAssertion(raw []byte, keys []KeyPair) []byte {
	doc := etree.NewDocument()
	if doc.ReadFromBytes(raw) != nil || doc.Root() == nil {
		return nil
	}
	ea := child(doc.Root(), "EncryptedAssertion")
	if ea == nil {
		return nil
	}
	ed := child(ea, "EncryptedData")
	if ed == nil {
		return nil
	}
	candidates := append(ea.FindElements("./EncryptedKey"), ed.FindElements("./KeyInfo/EncryptedKey")...)
	if len(candidates) > maxEncryptedKeys {
		candidates = candidates[:maxEncryptedKeys]
	}
	for _, k := range keys {
		if plain := openWith(k.Key, ed, candidates); plain != nil {
			return plain
		}
	}
	return nil
}

func openWith(key *rsa.PrivateKey, ed *etree.Element, encryptedKeys []*etree.Element) []byte {
	if len(encryptedKeys) == 0 {
		plain, err := xmlenc.Decrypt(key, ed)
		if err != nil {
			return nil
		}
		return plain
	}
	bare := ed.Copy()
	for _, el := range bare.FindElements("./KeyInfo/EncryptedKey") {
		el.Parent().RemoveChild(el)
	}
	for _, ek := range encryptedKeys {
		sessionKey, err := xmlenc.Decrypt(key, ek)
		if err != nil {
			continue
		}
		if plain, err := xmlenc.Decrypt(sessionKey, bare); err == nil {
			return plain
		}
	}
	return nil
}

// precheckDecrypted runs precheck on a decrypted assertion, inside a
// Response made up for the purpose (declaring the prefixes IdPs use, in
// case the plaintext relies on the encrypting document's), and returns
// whether the assertion is signed.
func precheckDecrypted(plain []byte) (bool, *Rejection) {
	body := bytes.TrimLeft(plain, "\ufeff \t\r\n")
	if bytes.HasPrefix(body, []byte("<?xml")) {
		if end := bytes.Index(body, []byte("?>")); end >= 0 {
			body = body[end+2:]
		}
	}
	var b bytes.Buffer
	b.WriteString(`<samlp:Response xmlns:samlp="` + nsProtocol + `" xmlns:saml="` + nsAssertion + `" xmlns:saml2="` + nsAssertion +
		`" xmlns:ds="` + nsDSig + `"><samlp:Status><samlp:StatusCode Value="` + statusOK + `"/></samlp:Status>`)
	b.Write(body)
	b.WriteString(`</samlp:Response>`)
	sh, rej := precheck(b.Bytes())
	if rej != nil {
		rej.Reason = "in the decrypted assertion: " + rej.Reason
		return false, rej
	}
	if sh.encrypted {
		return false, reject(CodeMalformed, "the EncryptedAssertion holds another EncryptedAssertion")
	}
	return sh.assertionSigned, nil
}

// child is el's first child element with the local name tag.
func child(el *etree.Element, tag string) *etree.Element {
	for _, c := range el.ChildElements() {
		if c.Tag == tag {
			return c
		}
	}
	return nil
}
