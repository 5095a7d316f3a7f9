package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse-id/gatehouse/federation/provider"
	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

func keys(ctx context.Context, e *env, args []string) int {
	c := newCLI(e, "gatehouse keys", "Manages token-signing keys.\n\nCommands:\n"+
		"  rotate    publish new signing keys; the old ones retire\n"+
		"  revoke    end one signing key at once (a leaked key)\n"+
		"  rotate-master\n"+
		"            re-seal every secret under a new master key")
	c.args = "<command>"
	if len(args) > 0 {
		if sub, ok := map[string]func(context.Context, *env, []string) int{
			"rotate": keysRotate, "revoke": keysRevoke, "rotate-master": keysRotateMaster,
		}[args[0]]; ok {
			return sub(ctx, e, args[1:])
		}
	}
	if code, done := c.parse(args); done {
		return code
	}
	c.usage(e.stderr)
	return exitUsage
}

func keysRotate(ctx context.Context, e *env, args []string) int {
	c := newCLI(e, "gatehouse keys rotate",
		"Adds a new token-signing key for every algorithm (RS256, ES256, EdDSA). The new\n"+
			"keys are published in JWKS at once and start signing 6m30s later, once every\n"+
			"node and every relying party's cached JWKS knows them; the old keys keep signing\n"+
			"until then and stay published until every token they signed has expired.").withConfig()
	if code, done := c.parse(args); done {
		return code
	}
	return c.withProvider(ctx, func(p *provider.Provider) int {
		ids, err := p.RotateKeys(ctx)
		if err != nil {
			return e.fail(err)
		}
		for _, id := range ids {
			fmt.Fprintln(e.stdout, id)
		}
		fmt.Fprintf(e.stderr, "Rotated: %d new signing keys are published and start signing within minutes; "+
			"the previous keys stay published until their tokens expire.\n", len(ids))
		return exitOK
	})
}

func keysRevoke(ctx context.Context, e *env, args []string) int {
	c := newCLI(e, "gatehouse keys revoke",
		"Ends one token-signing key now, for a key that must not be trusted any more.\n"+
			"Every node drops it within 30s (its key refresh interval): it leaves JWKS,\n"+
			"and tokens it signed stop verifying at introspection, userinfo and the\n"+
			"GraphQL API. If it was signing, a new key takes its place at once, without\n"+
			"the publish-ahead of a rotation: relying parties that cached JWKS meet an\n"+
			"unknown kid and must fetch JWKS again. The new key's id is printed on stdout.").withConfig()
	kid := c.fs.String("kid", "", "the key's `id` (kid), as in JWKS (required)")
	c.own = []string{"kid"}
	if code, done := c.parse(args); done {
		return code
	}
	if !c.require("kid", *kid) {
		return exitUsage
	}
	return c.withProvider(ctx, func(p *provider.Provider) int {
		replacement, err := p.RevokeKey(ctx, *kid)
		if errors.Is(err, provider.ErrUnknownKey) {
			fmt.Fprintf(e.stderr, "%s: %v\n", c.path, err)
			return exitUsage
		}
		if err != nil {
			return e.fail(err)
		}
		if replacement == "" {
			fmt.Fprintf(e.stderr, "Revoked %s: it was not signing, so nothing replaces it.\n", *kid)
			return exitOK
		}
		fmt.Fprintln(e.stdout, replacement)
		fmt.Fprintf(e.stderr, "Revoked %s: %s signs in its place; every node switches within 30s.\n", *kid, replacement)
		return exitOK
	})
}

func keysRotateMaster(ctx context.Context, e *env, args []string) int {
	c := newCLI(e, "gatehouse keys rotate-master",
		"Re-seals every secret stored under a master key (signing keys, SSO connections' SP keys\n"+
			"and client secrets, authenticator apps' TOTP secrets) with the new one.\n"+
			"Give the new key first and the old one after it, in GATEHOUSE_MASTER_KEY\n"+
			"(comma-separated) or one a line in GATEHOUSE_MASTER_KEY_FILE, on every node,\n"+
			"then run this once. Nodes with both keys keep working throughout; when it\n"+
			"has run, drop the old key from the configuration. Running it again changes\n"+
			"nothing. The id of the master key now sealing is printed on stdout.").withConfig()
	if code, done := c.parse(args); done {
		return code
	}
	return c.withIdentity(ctx, func(b *backend, p *provider.Provider) int {
		n, err := p.ResealKeys(ctx)
		if err != nil {
			return e.fail(err)
		}
		conns, err := b.tenants.ResealConnectionSecrets(viewer.SystemContext(ctx))
		if err != nil {
			return e.fail(err)
		}
		totps, err := b.tenants.ResealTOTPSecrets(viewer.SystemContext(ctx))
		if err != nil {
			return e.fail(err)
		}
		fmt.Fprintln(e.stdout, p.MasterKeyID())
		fmt.Fprintf(e.stderr, "Re-sealed %d signing keys, the secrets of %d SSO connections and %d TOTP secrets under master key %s; the keys listed after it can now be removed.\n", n, conns, totps, p.MasterKeyID())
		return exitOK
	})
}

// withProvider loads the configuration, opens the database and the
// provider on it, and runs fn: the body of every keys command.
func (c *cli) withProvider(ctx context.Context, fn func(*provider.Provider) int) int {
	return c.withIdentity(ctx, func(_ *backend, p *provider.Provider) int { return fn(p) })
}

// withIdentity is withProvider for a command that also needs the domain
// service (whose sealer is the provider's).
func (c *cli) withIdentity(ctx context.Context, fn func(*backend, *provider.Provider) int) int {
	cfg, ok := c.load()
	if !ok {
		return exitUsage
	}
	b, p, err := openIdentity(ctx, cfg, newLogger(cfg, c.e.stderr))
	if err != nil {
		return c.e.fail(err)
	}
	defer b.Close()
	return fn(b, p)
}
