// Package mail sends Gatehouse's messages to end users: verification and
// sign-in codes, password resets and security notices. Templates renders
// them from the i18n catalogs (a text and an HTML part); a Sender delivers
// one (SMTP, the log, the in-memory Mailbox of dev mode); the Outbox sends
// in the background, so that a request never waits on a mail server and
// the time a page takes does not tell whether an account exists
// (SECURITY-CHECKLIST ATO-04).
package mail
