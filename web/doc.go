// Package web serves what a person sees in a browser: the hosted sign-in
// pages that an OpenID Provider authorization request hands over to
// (/login?authRequest=ID), the organization picker, the "continue as"
// page for prompt=select_account (/login/continue), the consent screen,
// the page after RP-initiated logout (/login/logged-out: a GET only asks
// "Sign out?", its CSRF-protected POST ends the session), and the browser
// sessions behind them. Where the application asked for no page
// (prompt=none) or the user denies consent, the request ends with an OAuth
// error sent back to the application (Flow.FailLogin). Sign-ins, rejected
// sign-ins, consent and logout are written to the audit trail.
//
// A sign-in is a login transaction of steps, one file each (login_*.go):
// each step reads its form, calls tenants (the identity rules live there)
// and records a proven factor; after each, tenants.LoginPolicy decides
// whether the sign-in is done, needs another step, or is refused. Web
// knows the provider only through federation's types (Flow).
// Templates and static files are embedded; every page is rendered with
// html/template into a buffer first.
package web
