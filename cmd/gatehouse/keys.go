package main

import (
	"context"
	"fmt"
)

func keys(ctx context.Context, e *env, args []string) int {
	c := newCLI(e, "gatehouse keys", "Manages token-signing keys.\n\nCommands:\n  rotate    publish new signing keys; the old ones retire")
	c.args = "<command>"
	if len(args) > 0 && args[0] == "rotate" {
		return keysRotate(ctx, e, args[1:])
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
	cfg, ok := c.load()
	if !ok {
		return exitUsage
	}
	logger := newLogger(cfg, e.stderr)
	b, err := openBackend(ctx, cfg, logger)
	if err != nil {
		return e.fail(err)
	}
	defer b.Close()
	p, err := b.openProvider(ctx, cfg, logger)
	if err != nil {
		return e.fail(err)
	}
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
}
