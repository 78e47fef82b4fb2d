package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"

	"github.com/votestream/votestream/functions/transform/bench"
)

// benchTarget is one `votestream bench NAME` subcommand.
type benchTarget struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// benchTargets holds the bench subcommands; each one's file adds itself from
// init with registerBench.
var benchTargets = map[string]benchTarget{}

func registerBench(name, summary string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) error) {
	benchTargets[name] = benchTarget{summary: summary, run: run}
}

func init() {
	register("bench", "measure a component's throughput: bench bridge or bench transform", runBench)
	registerBench("transform", "enrichment votes/s, one query per batch against one per vote, and Parquet MB/s", runBenchTransform)
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printBenchUsage(stderr)
		if len(args) == 0 {
			return usagef("name a benchmark")
		}
		return nil
	}
	target, ok := benchTargets[args[0]]
	if !ok {
		printBenchUsage(stderr)
		return usagef("unknown benchmark %q: use one of the names listed above", args[0])
	}
	err := target.run(ctx, args[1:], stdout, stderr)
	// The flags of a benchmark are in its own --help, not in bench --help.
	if usage, ok := err.(usageError); ok && usage.command == "" {
		usage.command = "bench " + args[0]
		return usage
	}
	return err
}

func printBenchUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: votestream bench NAME [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Benchmarks:")
	names := make([]string, 0, len(benchTargets))
	for name := range benchTargets {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-10s %s\n", name, benchTargets[name].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'votestream bench NAME --help' for the flags of a benchmark.")
}

func runBenchTransform(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench transform", "bench transform [flags]", stderr)
	votes := fs.Int("votes", bench.DefaultVotes,
		"ballots of the synthetic election, one registered voter each")
	batch := fs.Int("batch", bench.DefaultBatch,
		"ballots per invocation of the transform; the default is about 1 MB of packed envelopes, Firehose's default processor buffer")
	databaseURL := fs.String("database-url", envOr("DATABASE_URL", ""),
		"PostgreSQL to load the election into (migrations are applied and the election stays); empty starts a throwaway cluster in a temporary directory [DATABASE_URL]")
	jsonOut := fs.Bool("json", false, "print the result as one JSON object instead of a table")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	if *votes < 1 || *batch < 1 {
		return usagef("--votes %d or --batch %d is invalid: set both to 1 or more", *votes, *batch)
	}

	result, err := bench.Run(ctx, bench.Config{Votes: *votes, Batch: *batch, DatabaseURL: *databaseURL, Progress: stderr})
	var setup *bench.SetupError
	if errors.As(err, &setup) {
		return setupError{err}
	}
	if err != nil {
		return err
	}

	return writeBenchResult(stdout, *jsonOut, result, func() { printTransformResult(stdout, result) })
}

// writeBenchResult writes a benchmark result as indented JSON, or as text
// with printText.
func writeBenchResult(w io.Writer, asJSON bool, result any, printText func()) error {
	if asJSON {
		encoder := json.NewEncoder(w)
		encoder.SetIndent("", "  ")
		return encoder.Encode(result)
	}
	printText()
	return nil
}

func printTransformResult(w io.Writer, r bench.Result) {
	fmt.Fprintf(w, "%d votes in %d invocations of about %d ballots (%d records, %.1f MB of envelopes)\n",
		r.Votes, r.Invocations, r.Batch, r.Records, float64(r.InputBytes)/1e6)
	fmt.Fprintf(w, "machine: %d CPUs (%s), GOMAXPROCS %d, %.1f GiB, %s, PostgreSQL %s\n\n",
		r.Machine.NumCPU, r.Machine.CPUModel, r.Machine.GOMAXPROCS, float64(r.Machine.MemoryBytes)/(1<<30), r.Machine.GoVersion, r.Machine.PostgreSQL)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "stage\tvotes/s\tseconds\tclient CPU s\t")
	rows := []struct {
		name string
		rate bench.Rate
	}{
		{"one query per batch, cold cache", r.BatchQueryCold},
		{"one query per batch, warm cache", r.BatchQueryWarm},
		{"one query per vote (lookup only)", r.QueryPerVote},
	}
	for _, row := range rows {
		fmt.Fprintf(tw, "%s\t%.0f\t%.2f\t%.2f\t\n", row.name, row.rate.VotesPerSecond, row.rate.Seconds, row.rate.ClientCPUSeconds)
	}
	tw.Flush()

	p := r.Parquet
	fmt.Fprintf(w, "\nParquet (%s): %.1f MB of JSON rows in %.2f s = %.1f MB/s, %d rows, %.1f MB in %d files\n",
		p.Compression, float64(p.InputBytes)/1e6, p.Seconds, p.InputMBPerSecond, p.Rows, float64(p.OutputBytes)/1e6, p.Files)
}
