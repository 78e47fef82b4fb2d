package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/votestream/votestream/bridge"
	bridgebench "github.com/votestream/votestream/bridge/bench"
)

func init() {
	registerBench("bridge", "bridge votes/s against a consume-only ceiling, call sizes, and billed bytes with and without packing", runBenchBridge)
}

func runBenchBridge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench bridge", `bench bridge [flags]

Produces synthetic ballots to an embedded Kafka broker, reads them three
times with a consumer that only counts them (the ceiling is the fastest
pass), then runs the bridge into a local Firehose on 127.0.0.1 and prints
both rates, their ratio, PutRecordBatch call sizes and billed bytes. Every
part runs in this process, so the rates depend on all of them.`, stderr)
	votes := fs.Int("votes", bridgebench.DefaultVotes, "ballots to produce to the embedded broker and read in each phase")
	partitions := fs.Int("partitions", bridgebench.DefaultPartitions, "partitions of the votes topic")
	targetBytes := fs.Int("target-record-bytes", bridge.DefaultTargetRecordBytes, "bytes at which the bridge closes a packed Firehose record (maximum 1024000)")
	concurrency := fs.Int("max-concurrent-calls", bridge.DefaultMaxConcurrentCalls, "maximum PutRecordBatch calls in flight")
	durable := fs.Bool("durable-firehose", false, "make the local Firehose write every call to its spool with fsync before acknowledging, as votestream firehose does; the spool is in the system's temporary directory ($TMPDIR), so this measures that disk (default: acknowledge without storing)")
	logLevel := fs.String("log-level", "warn", "log level of the bridge and the local Firehose: debug, info, warn or error")
	jsonOut := fs.Bool("json", false, "print the result as one JSON object instead of a table")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q: bench bridge takes only flags", fs.Args())
	}
	for _, f := range []struct {
		name  string
		value int
	}{{"votes", *votes}, {"partitions", *partitions}, {"max-concurrent-calls", *concurrency}} {
		if f.value < 1 {
			return usagef("--%s %d is invalid: use 1 or more", f.name, f.value)
		}
	}
	if *targetBytes < 1 || *targetBytes > bridge.FirehoseMaxRecordBytes {
		return usagef("--target-record-bytes %d is outside 1 to %d", *targetBytes, bridge.FirehoseMaxRecordBytes)
	}
	logger, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}

	result, err := bridgebench.Run(ctx, bridgebench.Config{
		Votes:              *votes,
		Partitions:         int32(*partitions),
		TargetRecordBytes:  *targetBytes,
		MaxConcurrentCalls: *concurrency,
		DurableFirehose:    *durable,
		Progress:           stderr,
		Logger:             logger,
	})
	if err != nil {
		return err
	}

	return writeBenchResult(stdout, *jsonOut, result, func() { printBridgeResult(stdout, result) })
}

func printBridgeResult(w io.Writer, r bridgebench.Result) {
	m := r.Machine
	firehose := "acknowledges without storing"
	if r.DurableFirehose {
		firehose = "spools every call with fsync"
	}
	fmt.Fprintf(w, "%d ballots of %.0f bytes on %d partitions; target record %d bytes, %d calls in flight; the local Firehose %s\n",
		r.Votes, r.VoteBytes, r.Partitions, r.TargetRecordBytes, r.MaxConcurrentCalls, firehose)
	fmt.Fprintf(w, "machine: %d CPUs (%s), GOMAXPROCS %d, %s, %s\n\n", m.NumCPU, m.CPUModel, m.GOMAXPROCS, m.GoVersion, m.OS)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tvotes/s\tseconds\tprocess CPU s\t")
	fmt.Fprintf(tw, "consume only (ceiling, fastest of 3)\t%.0f\t%.2f\t%.2f\t\n", r.ConsumeOnly.VotesPerSecond, r.ConsumeOnly.Seconds, r.ConsumeOnly.CPUSeconds)
	fmt.Fprintf(tw, "bridge to local Firehose\t%.0f\t%.2f\t%.2f\t\n", r.Bridge.VotesPerSecond, r.Bridge.Seconds, r.Bridge.CPUSeconds)
	tw.Flush()

	b := r.Bridge
	fmt.Fprintf(w, "\nbridge / ceiling: %.2f\n", r.BridgeToCeiling)
	fmt.Fprintf(w, "Firehose: %.0f records/s, %.1f calls/s, %.2f MiB/s of record data, %.2f MiB per CPU second\n",
		b.FirehoseRecordsPerSecond, b.CallsPerSecond, b.DataMiBPerSecond, b.DataMiBPerCPUSecond)
	fmt.Fprintf(w, "per call: %.1f records, %.0f bytes (%.1f%% of the 4 MiB limit); %.1f votes per record\n",
		b.RecordsPerCall, b.BytesPerCall, 100*b.CallFill, b.VotesPerRecord)
	fmt.Fprintf(w, "billed bytes per vote: %.0f packed, %.0f one vote per record (packing bills %.1f times fewer bytes)\n",
		b.BilledBytesPerVote, b.UnpackedBilledBytesPerVote, b.PackingSaving)
}
