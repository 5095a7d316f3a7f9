// Package web serves what a person sees in a browser: the hosted sign-in
// pages that an OpenID Provider authorization request hands over to
// (/login?authRequest=ID), the organization picker and the consent screen,
// and the browser sessions behind them. Templates and static files are
// embedded; every page is rendered with html/template into a buffer first.
package web
