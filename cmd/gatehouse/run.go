package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/gatehouse-id/gatehouse/internal/config"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and failed
	exitUsage   = 2 // bad command line or configuration: nothing was done
)

// env is what a command may touch of the outside world.
type env struct {
	getenv         func(string) string
	stdout, stderr io.Writer
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) int
}

func commands() []command {
	return []command{
		{"serve", "run the HTTP server (migrates the database first)", serve},
		{"migrate", "apply pending database migrations and exit", migrate},
		{"apikey", "manage API keys: apikey create --name NAME [--scope S]...", apikey},
		{"users", "manage users: users import --file users.jsonl", users},
		{"keys", "manage token-signing keys: keys rotate, keys revoke --kid ID", keys},
		{"version", "print the version and the Go version", printVersion},
	}
}

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	e := &env{getenv: getenv, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "-h", "-help", "--help", "help":
		if name == "help" && len(rest) > 0 {
			return run(ctx, []string{rest[0], "--help"}, getenv, stdout, stderr)
		}
		usage(stdout)
		return exitOK
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, e, rest)
		}
	}
	fmt.Fprintf(stderr, "gatehouse: unknown command %q\n\n", name)
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprint(w, "Gatehouse is a multi-tenant identity server.\n\nUsage:\n  gatehouse <command> [flags]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun 'gatehouse <command> --help' for a command's flags. Every configuration\n"+
		"flag can also be set by its GATEHOUSE_* environment variable; a flag wins.\n")
}

// cli is one command's command line: its flag set, its help text and, for
// commands that need the configuration, the loader.
type cli struct {
	e      *env
	fs     *flag.FlagSet
	path   string // "gatehouse apikey create"
	args   string // synopsis after the flags, e.g. "--name NAME"
	about  string
	own    []string // the command's own flags, in the order to list them
	config *config.Loader
}

func newCLI(e *env, path, about string) *cli {
	fs := flag.NewFlagSet(path, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {} // parse prints usage itself, to the right stream
	return &cli{e: e, fs: fs, path: path, about: about}
}

// withConfig binds the configuration flags.
func (c *cli) withConfig() *cli {
	c.config = config.Bind(c.fs, c.e.getenv)
	return c
}

// parse parses args. When done is true the command must return code: help
// was asked for (0) or the command line is wrong (2).
func (c *cli) parse(args []string) (code int, done bool) {
	err := c.fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		c.usage(c.e.stdout)
		return exitOK, true
	case err != nil:
		// flag has printed the problem already.
		fmt.Fprintln(c.e.stderr)
		c.usage(c.e.stderr)
		return exitUsage, true
	case c.fs.NArg() > 0:
		fmt.Fprintf(c.e.stderr, "%s: unexpected argument %q\n\n", c.path, c.fs.Arg(0))
		c.usage(c.e.stderr)
		return exitUsage, true
	}
	return exitOK, false
}

// require reports whether the required flag has a value; when it has
// none it says so, with the usage, and the command must exit with code 2.
func (c *cli) require(flag, value string) bool {
	if strings.TrimSpace(value) != "" {
		return true
	}
	fmt.Fprintf(c.e.stderr, "%s: --%s is required\n\n", c.path, flag)
	c.usage(c.e.stderr)
	return false
}

// load reads and validates the configuration. On failure it prints the one
// line that says everything wrong and the command must exit with code 2.
func (c *cli) load() (*config.Config, bool) {
	cfg, err := c.config.Load()
	if err != nil {
		fmt.Fprintf(c.e.stderr, "gatehouse: %v\n", err)
		return nil, false
	}
	return cfg, true
}

func (c *cli) usage(w io.Writer) {
	synopsis := c.path
	if len(c.own) > 0 || c.config != nil {
		synopsis += " [flags]"
	}
	if c.args != "" {
		synopsis += " " + c.args
	}
	fmt.Fprintf(w, "Usage:\n  %s\n\n%s\n", synopsis, c.about)
	if len(c.own) > 0 {
		fmt.Fprint(w, "\nFlags:\n")
		for _, name := range c.own {
			printFlag(w, c.fs.Lookup(name))
		}
	}
	if c.config != nil {
		fmt.Fprint(w, "\nConfiguration (a flag wins over its environment variable):\n")
		var envOnly []config.Var
		for _, v := range config.Table() {
			if v.Flag == "" {
				envOnly = append(envOnly, v)
				continue
			}
			printFlag(w, c.fs.Lookup(v.Flag))
		}
		if len(envOnly) > 0 {
			fmt.Fprint(w, "\nEnvironment only (never a flag: other users of the machine can read arguments):\n")
			for _, v := range envOnly {
				fmt.Fprintf(w, "  %s\n      %s\n      (default %s)\n", v.Name, v.Description, v.Default)
			}
		}
	}
}

func printFlag(w io.Writer, f *flag.Flag) {
	if f == nil {
		return
	}
	placeholder, text := flag.UnquoteUsage(f)
	line := "  --" + f.Name
	if placeholder != "" {
		line += " " + placeholder
	}
	fmt.Fprintln(w, line)
	for l := range strings.SplitSeq(text, "\n") {
		fmt.Fprintf(w, "      %s\n", l)
	}
}

// fail prints err as the command's one line of failure.
func (e *env) fail(err error) int {
	fmt.Fprintf(e.stderr, "gatehouse: %v\n", err)
	return exitFailure
}

// newLogger logs to stderr as the configuration says.
func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.Level()}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
