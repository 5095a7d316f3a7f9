// Package federation holds everything in Gatehouse that speaks an identity
// protocol with another system: the OpenID Provider that applications
// trust (federation/provider) and, later, the connectors to organizations'
// own identity providers (SAML, OIDC).
package federation
