// Package federation holds the protocol-neutral types that the hosted
// pages (web) and the protocol implementations below it share: what an
// application asked for (LoginRequest), what a sign-in proved
// (Authentication), what an upstream identity provider asserted
// (Identity), and the Connector interface every upstream protocol
// implements.
//
// Implementations live in packages below: federation/provider is the
// OpenID Provider that applications trust (it turns a completed
// Authentication into tokens); connectors to organizations' own identity
// providers (federation/saml, federation/oidc) come next. Pages import this
// package only, never an implementation; cmd/gatehouse wires them.
package federation
