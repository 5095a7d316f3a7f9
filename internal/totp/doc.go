// Package totp computes and checks time-based one-time passwords (RFC
// 6238: HMAC-SHA1, six digits, 30-second steps), makes their shared
// secrets and the otpauth:// key URI that authenticator apps read, and
// draws that URI as a QR code in SVG. It keeps no state: which steps were
// already used is the caller's to remember (tenants).
package totp
