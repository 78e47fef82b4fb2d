// Command votestream runs the votestream pipeline: the whole local stack
// (demo) and each of its parts on its own.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand. run parses args itself and returns a usageError
// for bad flags or arguments, so that main can exit with 2.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{}

// register adds a subcommand; each subcommand's file calls it from init.
func register(name, summary string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) error) {
	commands[name] = command{summary: summary, run: run}
}

// usageError marks a mistake in how the command was called (exit code 2).
type usageError struct {
	err error
	// command names the command whose --help lists the flags, when it is
	// not the first argument, such as "bench bridge".
	command string
}

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{err: fmt.Errorf(format, args...)}
}

// setupError marks a missing dependency or unusable environment (exit code 2).
type setupError struct{ err error }

func (e setupError) Error() string { return e.err.Error() }
func (e setupError) Unwrap() error { return e.err }

// errMismatch is returned when a replay ends but the lake or the ledger
// differs from what it must hold (exit code 1).
var errMismatch = errors.New("the count is not exact")

// Exit codes.
const (
	exitOK       = 0
	exitFailure  = 1
	exitUsage    = 2
	exitSignaled = 130
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "votestream: unknown command %q\n\n", args[0])
		printUsage(stderr)
		return exitUsage
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	err := cmd.run(ctx, args[1:], stdout, stderr)
	var usage usageError
	var setup setupError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &usage):
		name := cmp.Or(usage.command, args[0])
		fmt.Fprintf(stderr, "votestream %s: %v\nRun 'votestream %s --help' for the flags.\n", name, err, name)
		return exitUsage
	case errors.As(err, &setup):
		fmt.Fprintf(stderr, "votestream %s: %v\n", args[0], err)
		return exitUsage
	case errors.Is(err, errMismatch):
		fmt.Fprintf(stderr, "votestream %s: %v\n", args[0], err)
		return exitFailure
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		fmt.Fprintf(stderr, "votestream %s: interrupted\n", args[0])
		return exitSignaled
	default:
		fmt.Fprintf(stderr, "votestream %s: %v\n", args[0], err)
		return exitFailure
	}
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "votestream replays elections through Kafka, Firehose and a Parquet lake, and checks the count.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: votestream COMMAND [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-10s %s\n", name, commands[name].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'votestream COMMAND --help' for the flags of a command.")
	fmt.Fprintln(w, "Exit codes: 0 success, 1 failure or mismatch, 2 usage or set-up error, 130 interrupted.")
}

// newFlagSet returns a flag set that reports errors instead of exiting and
// prints its usage to stderr.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: votestream %s\n\nFlags (a variable in brackets, where one is given, sets the default from the environment):\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, turning flag errors into usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err: err}
	}
	return nil
}

// envOr returns the environment variable key, or def when it is unset.
func envOr(key, def string) string {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return def
}
