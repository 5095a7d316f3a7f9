package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
)

func users(ctx context.Context, e *env, args []string) int {
	c := newCLI(e, "gatehouse users", "Manages users.\n\nCommands:\n  import    create users from another system's export (JSON Lines)")
	c.args = "<command>"
	if len(args) > 0 && args[0] == "import" {
		return usersImport(ctx, e, args[1:])
	}
	if code, done := c.parse(args); done {
		return code
	}
	c.usage(e.stderr)
	return exitUsage
}

// importLine is one line of an import file: the fields of GraphQL's
// ImportUserInput, under the same names.
type importLine struct {
	Email          string  `json:"email"`
	EmailVerified  bool    `json:"emailVerified"`
	Name           *string `json:"name"`
	GivenName      *string `json:"givenName"`
	FamilyName     *string `json:"familyName"`
	PasswordHash   string  `json:"passwordHash"`
	OrganizationID string  `json:"organizationID"`
	RoleKey        string  `json:"roleKey"`
}

// importBatch is how many lines go to the database at once: the file is
// streamed, never read whole (the size of one chunk of tenants.ImportUsers).
const importBatch = 1000

// maxImportLine bounds one line of the file.
const maxImportLine = 64 << 10

func usersImport(ctx context.Context, e *env, args []string) int {
	c := newCLI(e, "gatehouse users import",
		"Creates users from a JSON Lines file, one user a line:\n\n"+
			`  {"email":"ada@example.com","emailVerified":true,"name":"Ada Lovelace",`+"\n"+
			`   "passwordHash":"$2b$12$…","organizationID":"or_…","roleKey":"admin"}`+"\n\n"+
			"passwordHash is an argon2id PHC string or a bcrypt hash ($2a$, $2b$, $2y$,\n"+
			"cost 10 to 14), which becomes argon2id at the user's first sign-in;\n"+
			"organizationID and roleKey (default member) make the user an ACTIVE member.\n"+
			"Each refused line is reported on stderr with its line number and field; an\n"+
			"email that is registered already is refused, not overwritten. The summary\n"+
			"goes to stdout. Exit status 1 when any line was refused.").withConfig()
	file := c.fs.String("file", "", "`path` of the JSON Lines file (required)")
	c.own = []string{"file"}
	if code, done := c.parse(args); done {
		return code
	}
	if !c.require("file", *file) {
		return exitUsage
	}
	cfg, ok := c.load()
	if !ok {
		return exitUsage
	}
	f, err := os.Open(*file)
	if err != nil {
		fmt.Fprintf(e.stderr, "%s: %v\n", c.path, err)
		return exitUsage
	}
	defer f.Close()
	b, err := openBackend(ctx, cfg, newLogger(cfg, e.stderr))
	if err != nil {
		return e.fail(err)
	}
	defer b.Close()

	var (
		imported, refused int
		batch             []importLine
		lines             []int // the line number of each row of batch
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		res, err := b.importUsers(ctx, batch)
		if err != nil {
			return err
		}
		imported += res.imported
		for _, r := range res.refused {
			refused++
			fmt.Fprintf(e.stderr, "line %d (%s): %s\n", lines[r.index], r.email, r.message)
		}
		batch, lines = batch[:0], lines[:0]
		return nil
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), maxImportLine)
	for n := 1; sc.Scan(); n++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		var l importLine
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil || dec.More() {
			if err == nil {
				err = errors.New("more than one JSON value on the line")
			}
			refused++
			fmt.Fprintf(e.stderr, "line %d: not a user object: %v\n", n, err)
			continue
		}
		batch, lines = append(batch, l), append(lines, n)
		if len(batch) == importBatch {
			if err := flush(); err != nil {
				return e.fail(fmt.Errorf("import users: %w", err))
			}
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("a line is longer than %d bytes", maxImportLine)
		}
		_ = flush()
		fmt.Fprintf(e.stdout, "Imported %d users; %d lines refused; stopped reading %s: %v\n", imported, refused, *file, err)
		return exitFailure
	}
	if err := flush(); err != nil {
		return e.fail(fmt.Errorf("import users: %w", err))
	}
	fmt.Fprintf(e.stdout, "Imported %d users; %d lines refused.\n", imported, refused)
	if refused > 0 {
		return exitFailure
	}
	return exitOK
}
