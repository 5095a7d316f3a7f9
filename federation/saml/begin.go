package saml

import (
	"context"
	"encoding/base64"
	"fmt"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"

	"github.com/gatehouse-id/gatehouse/federation"
)

// Begin makes a signed AuthnRequest (SAML Core §3.4.1) for the IdP's
// binding: HTTP-Redirect puts it, deflated, in the query with a detached
// signature over SAMLRequest and SigAlg (SAML Bindings §3.4.4.1);
// HTTP-POST sends it with an enveloped signature as a form field (§3.5.4).
// RelayState is sent when the request carries one: an opaque token by
// which the web layer finds its attempt again (the ACS is a cross-site
// POST without the browser's cookies); it is never a URL, and Finish never
// reads it (SAML-14). It is at most 80 bytes (SAML Bindings §3.4.3) and is
// covered by the HTTP-Redirect signature.
func (c *Connector) Begin(ctx context.Context, req federation.BeginRequest) (federation.Step, error) {
	if len(req.RelayState) > 80 {
		return federation.Step{}, fmt.Errorf("saml: RelayState of %d bytes, more than 80", len(req.RelayState))
	}
	if req.CallbackURL != "" && req.CallbackURL != c.cfg.ACSURL {
		return federation.Step{}, fmt.Errorf("saml: callback %q is not this connection's ACS URL %q", req.CallbackURL, c.cfg.ACSURL)
	}
	now := c.cfg.Now()
	sp := c.serviceProvider(now)
	if req.ForceAuthn {
		force := true
		sp.ForceAuthn = &force
	}
	binding := saml.HTTPRedirectBinding
	if c.cfg.IdP.Binding == BindingPOST {
		binding = saml.HTTPPostBinding
	}
	authn, err := sp.MakeAuthenticationRequest(c.cfg.IdP.SSOURL, binding, saml.HTTPPostBinding)
	if err != nil {
		return federation.Step{}, fmt.Errorf("saml: make AuthnRequest: %w", err)
	}
	step := federation.Step{State: c.encodeState(authn.ID, now)}
	if binding == saml.HTTPRedirectBinding {
		u, err := authn.Redirect(req.RelayState, sp)
		if err != nil {
			return federation.Step{}, fmt.Errorf("saml: sign AuthnRequest for HTTP-Redirect: %w", err)
		}
		step.RedirectURL = u.String()
		return step, nil
	}
	doc := etree.NewDocument()
	doc.SetRoot(authn.Element())
	b, err := doc.WriteToBytes()
	if err != nil {
		return federation.Step{}, fmt.Errorf("saml: write AuthnRequest: %w", err)
	}
	step.FormAction = c.cfg.IdP.SSOURL
	step.FormFields = map[string]string{"SAMLRequest": base64.StdEncoding.EncodeToString(b)}
	if req.RelayState != "" {
		step.FormFields["RelayState"] = req.RelayState
	}
	return step, nil
}
