// Package i18n holds the message catalogs of everything Gatehouse says to
// end users (hosted pages and mail), one flat JSON file per locale embedded
// in the binary, and chooses a locale for a request: an explicit choice
// first, then the browser's Accept-Language (RFC 9110 §12.5.4), then
// English. Load refuses a catalog in which a locale lacks a key or names
// other placeholders than English does, so a translation can never be
// half-shipped.
package i18n
