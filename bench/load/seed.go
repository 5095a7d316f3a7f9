package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// seedMode creates, over GraphQL with an instance API key, what the
// benchmarks use, and prints it as shell assignments for bench/oidc.sh:
// the organization and user Ada (whose password is -password), a MACHINE
// application per access-token algorithm (ES256, RS256; scope
// invoices:read), and a first-party WEB application with ES256 access and
// ID tokens for the code flow and refresh benchmarks.
func seedMode(issuer, apiKey, email, password, redirect string) error {
	gql := func(query string, vars map[string]any, out any) error {
		body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
		req, _ := http.NewRequest(http.MethodPost, issuer+"/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+apiKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var env struct {
			Data   json.RawMessage
			Errors []json.RawMessage
		}
		if json.Unmarshal(raw, &env) != nil || resp.StatusCode != 200 || len(env.Errors) > 0 {
			return fmt.Errorf("graphql: %d %s", resp.StatusCode, raw)
		}
		return json.Unmarshal(env.Data, out)
	}
	var org struct {
		CreateOrganization struct{ Organization struct{ ID string } }
	}
	if err := gql(`mutation { createOrganization(input:{name:"Acme", slug:"acme"}) { organization { id } } }`, nil, &org); err != nil {
		return err
	}
	var user struct {
		CreateUser struct{ User struct{ ID string } }
	}
	if err := gql(`mutation($org: ID!, $email: String!, $pw: String!) {
		createUser(input:{email:$email, password:$pw, name:"Ada Lovelace", emailVerified:true, organizationID:$org, roles:["owner"]}) { user { id } } }`,
		map[string]any{"org": org.CreateOrganization.Organization.ID, "email": email, "pw": password}, &user); err != nil {
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
		var out struct {
			CreateApplication struct {
				Application  struct{ ClientID string }
				ClientSecret *string
			}
		}
		if err := gql(`mutation($input: CreateApplicationInput!) { createApplication(input:$input) { application { clientID } clientSecret } }`,
			map[string]any{"input": a.input}, &out); err != nil {
			return err
		}
		if out.CreateApplication.ClientSecret == nil {
			return fmt.Errorf("%s: no client secret", a.env)
		}
		fmt.Printf("%s_ID='%s'\n%s_SECRET='%s'\n", a.env, out.CreateApplication.Application.ClientID, a.env, *out.CreateApplication.ClientSecret)
	}
	return nil
}
