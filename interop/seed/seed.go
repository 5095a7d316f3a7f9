// Package seed creates what a test or benchmark signs in with —
// organizations, users and applications — over Gatehouse's GraphQL API
// with an instance API key, as an operator would. The interop tests and
// the load generator (bench/load) both seed with it.
package seed

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Client posts GraphQL operations to one server with an API key.
type Client struct {
	Issuer string // the server's base URL; GraphQL is at Issuer/graphql
	APIKey string
}

// Application is a registered application's credentials.
type Application struct {
	ID     string
	Secret string // empty for public clients
}

// Do posts one operation and decodes its data into out. A transport error,
// a status other than 200, or any GraphQL error is an error.
func (c *Client) Do(ctx context.Context, query string, vars map[string]any, out any) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Issuer+"/graphql", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.APIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("POST /graphql: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("POST /graphql: read response: %w", err)
	}
	var env struct {
		Data   json.RawMessage
		Errors []json.RawMessage
	}
	if err := json.Unmarshal(raw, &env); err != nil || resp.StatusCode != http.StatusOK || len(env.Errors) > 0 {
		return fmt.Errorf("POST /graphql %s\nvariables %v\n→ %d %s", oneLine(query), vars, resp.StatusCode, raw)
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		return fmt.Errorf("POST /graphql: decode %s: %w", env.Data, err)
	}
	return nil
}

// CreateOrganization creates an organization and returns its id.
func (c *Client) CreateOrganization(ctx context.Context, name, slug string) (string, error) {
	var out struct {
		CreateOrganization struct{ Organization struct{ ID string } }
	}
	err := c.Do(ctx, `mutation($name: String!, $slug: String!) {
		createOrganization(input:{name:$name, slug:$slug}) { organization { id } } }`,
		map[string]any{"name": name, "slug": slug}, &out)
	if err == nil && out.CreateOrganization.Organization.ID == "" {
		err = fmt.Errorf("createOrganization %s: no id", slug)
	}
	return out.CreateOrganization.Organization.ID, err
}

// CreateUser creates a user with a verified email and a password, an owner
// of the organization orgID, and returns the user's id.
func (c *Client) CreateUser(ctx context.Context, orgID, email, password, name string) (string, error) {
	var out struct {
		CreateUser struct{ User struct{ ID string } }
	}
	err := c.Do(ctx, `mutation($org: ID!, $email: String!, $pw: String!, $name: String!) {
		createUser(input:{email:$email, password:$pw, name:$name, emailVerified:true, organizationID:$org, roles:["owner"]}) { user { id } } }`,
		map[string]any{"org": orgID, "email": email, "pw": password, "name": name}, &out)
	if err == nil && out.CreateUser.User.ID == "" {
		err = fmt.Errorf("createUser %s: no id", email)
	}
	return out.CreateUser.User.ID, err
}

// CreateApplication registers an application (input is a
// CreateApplicationInput) and returns its client id and, for confidential
// clients, the secret shown only now.
func (c *Client) CreateApplication(ctx context.Context, input map[string]any) (Application, error) {
	var out struct {
		CreateApplication struct {
			Application  struct{ ClientID string }
			ClientSecret *string
		}
	}
	err := c.Do(ctx, `mutation($input: CreateApplicationInput!) {
		createApplication(input:$input) { application { clientID } clientSecret } }`,
		map[string]any{"input": input}, &out)
	if err != nil {
		return Application{}, err
	}
	a := Application{ID: out.CreateApplication.Application.ClientID}
	if out.CreateApplication.ClientSecret != nil {
		a.Secret = *out.CreateApplication.ClientSecret
	}
	if a.ID == "" {
		return Application{}, fmt.Errorf("createApplication %v: no clientID", input["name"])
	}
	return a, nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
