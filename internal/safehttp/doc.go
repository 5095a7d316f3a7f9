// Package safehttp fetches URLs that tenants supply (a client's jwks_uri,
// later IdP metadata and logos) without letting them reach Gatehouse's own
// network (SECURITY-CHECKLIST MT-10, OWASP SSRF Prevention Cheat Sheet):
// https only, no credentials in the URL, every address checked after DNS
// resolution on the connection actually made, redirects re-checked, and
// the body's size and the whole fetch's time capped.
package safehttp
