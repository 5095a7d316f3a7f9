package main

import (
	"context"
	"fmt"

	"github.com/gatehouse-id/gatehouse/interop/seed"
)

// seedMode creates, over GraphQL with an instance API key (interop/seed),
// what the benchmarks use, and prints it as shell assignments for
// bench/oidc.sh: the organization and user Ada (whose password is
// -password), a MACHINE application per access-token algorithm (ES256,
// RS256; scope invoices:read), and a first-party WEB application with
// ES256 access and ID tokens for the code flow and refresh benchmarks.
func seedMode(issuer, apiKey, email, password, redirect string) error {
	ctx := context.Background()
	c := &seed.Client{Issuer: issuer, APIKey: apiKey}
	org, err := c.CreateOrganization(ctx, "Acme", "acme")
	if err != nil {
		return err
	}
	if _, err := c.CreateUser(ctx, org, email, password, "Ada Lovelace"); err != nil {
		return err
	}
	apps := []struct {
		env   string
		input map[string]any
	}{
		{"GH_SVC_ES256", map[string]any{"name": "svc-es256", "type": "MACHINE", "grantTypes": []string{"CLIENT_CREDENTIALS"},
			"accessTokenSigningAlgorithm": "ES256", "scopes": []string{"invoices:read"}}},
		{"GH_SVC_RS256", map[string]any{"name": "svc-rs256", "type": "MACHINE", "grantTypes": []string{"CLIENT_CREDENTIALS"},
			"accessTokenSigningAlgorithm": "RS256", "scopes": []string{"invoices:read"}}},
		{"GH_WEB", map[string]any{"name": "web", "type": "WEB", "redirectURIs": []string{redirect},
			"grantTypes":                  []string{"AUTHORIZATION_CODE", "REFRESH_TOKEN"},
			"accessTokenSigningAlgorithm": "ES256", "idTokenSigningAlgorithm": "ES256"}},
	}
	for _, a := range apps {
		app, err := c.CreateApplication(ctx, a.input)
		if err != nil {
			return err
		}
		if app.Secret == "" {
			return fmt.Errorf("%s: no client secret", a.env)
		}
		fmt.Printf("%s_ID='%s'\n%s_SECRET='%s'\n", a.env, app.ID, a.env, app.Secret)
	}
	return nil
}
