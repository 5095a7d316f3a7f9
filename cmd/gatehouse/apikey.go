package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

func apikey(ctx context.Context, e *env, args []string) int {
	c := newCLI(e, "gatehouse apikey", "Manages API keys.\n\nCommands:\n  create    create an API key and print its secret")
	c.args = "<command>"
	if len(args) > 0 && args[0] == "create" {
		return apikeyCreate(ctx, e, args[1:])
	}
	if code, done := c.parse(args); done {
		return code
	}
	c.usage(e.stderr) // parse returned for help and for stray arguments
	return exitUsage
}

func apikeyCreate(ctx context.Context, e *env, args []string) int {
	c := newCLI(e, "gatehouse apikey create",
		"Creates an API key acting on the whole instance, or on one organization\n"+
			"with --scope org:<organization id>. The secret is printed once, alone,\n"+
			"on the last line of stdout; everything else goes to stderr.").withConfig()
	var scopes stringList
	name := c.fs.String("name", "", "`name` of the key, as shown in lists and audit events (required)")
	c.fs.Var(&scopes, "scope", "limit the key to one organization, given as `org:ID` (none: instance-wide)")
	c.own = []string{"name", "scope"}
	if code, done := c.parse(args); done {
		return code
	}
	if !c.require("name", *name) {
		return exitUsage
	}
	cfg, ok := c.load()
	if !ok {
		return exitUsage
	}
	b, err := openBackend(ctx, cfg, newLogger(cfg, e.stderr))
	if err != nil {
		return e.fail(err)
	}
	defer b.Close()

	key, err := b.createAPIKey(ctx, *name, scopes)
	var inputErr *inputError
	if errors.As(err, &inputErr) {
		fmt.Fprintf(e.stderr, "%s: %v\n", c.path, inputErr)
		return exitUsage
	}
	if err != nil {
		return e.fail(fmt.Errorf("create API key: %w", err))
	}
	reach := "the whole instance"
	if len(scopes) > 0 {
		reach = strings.Join(scopes, ", ")
	}
	fmt.Fprintf(e.stderr, "Created API key %s %q for %s.\n", key.id, *name, reach)
	fmt.Fprintln(e.stderr, "Its secret follows on stdout. It is shown only this once: store it now.")
	fmt.Fprintln(e.stdout, key.secret)
	return exitOK
}

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(s string) error {
	*l = append(*l, s)
	return nil
}
