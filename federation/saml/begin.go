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
// No RelayState is sent: the login transaction is bound to the browser by
// the web layer, which keeps Step.State server-side (SAML-14).
func (c *Connector) Begin(ctx context.Context, req federation.BeginRequest) (federation.Step, error) {
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
		u, err := authn.Redirect("", sp)
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
	return step, nil
}
