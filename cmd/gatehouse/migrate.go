package main

import (
	"context"
	"fmt"
)

func migrate(ctx context.Context, e *env, args []string) int {
	c := newCLI(e, "gatehouse migrate",
		"Applies the database migrations the database has not seen yet, then exits.\n"+
			"Each applied migration is logged on stderr; serve migrates on start too.").withConfig()
	if code, done := c.parse(args); done {
		return code
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
	fmt.Fprintf(e.stdout, "database %s is up to date\n", b.describe())
	return exitOK
}
