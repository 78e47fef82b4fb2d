package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/votestream/votestream/internal/election"
	"github.com/votestream/votestream/internal/plan"
)

func init() {
	register("plan", "size Firehose, the bridge, Kafka, Lambda and PostgreSQL for an election day, with its Firehose cost", runPlan)
}

func runPlan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("plan", "plan (--electorate N --turnout F | --results PATH) [flags]", stderr)
	electorate := fs.Int64("electorate", 0, "registered voters")
	turnout := fs.Float64("turnout", 0, "share of the electorate that votes, from 0 to 1, such as 0.65")
	results := fs.String("results", "", "results CSV whose total votes replace electorate × turnout; its .election.json gives the polling hours")
	pollingHours := fs.Duration("polling-hours", 15*time.Hour, "how long polls are open, when --results has no .election.json")
	region := fs.String("region", envOr("VOTESTREAM_REGION", "us-east-1"), "AWS region: us-east-1, us-west-2 and eu-west-1 have 5 times the Direct PUT quotas of the others [VOTESTREAM_REGION]")
	peakFactor := fs.Float64("peak-factor", plan.DefaultPeakFactor, "multiplier on the busiest twentieth of the day's average rate, for shorter bursts (estimate)")
	voteBytes := fs.Int("vote-bytes", plan.DefaultVoteBytes, "bytes of one ballot in the bridge's envelope")
	recordBytes := fs.Int("record-bytes", plan.DefaultRecordBytes, "bytes of one packed Firehose record (bridge --target-record-bytes)")
	bridgeRate := fs.Float64("bridge-votes-per-second", plan.DefaultBridgeVotesPerSecond, "ballots one bridge instance sends per second (estimate)")
	partitionRate := fs.Float64("partition-votes-per-second", plan.DefaultPartitionVotesPerSecond, "ballots the tally function records per second per partition (estimate)")
	jsonOut := fs.Bool("json", false, "print the plan as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q: plan takes only flags", fs.Arg(0))
	}

	in := plan.Input{
		PollingHours: *pollingHours, PeakFactor: *peakFactor, Region: *region,
		VoteBytes: *voteBytes, RecordBytes: *recordBytes,
		BridgeVotesPerSecond: *bridgeRate, PartitionVotesPerSecond: *partitionRate,
		TransformSecondsPerMiB: plan.DefaultTransformSecondsPerMiB, TransformMemoryGB: plan.DefaultTransformMemoryGB,
		DBConnsPerInstance: plan.DefaultDBConnsPerInstance, Prices: plan.DefaultPrices,
	}
	switch {
	case *results != "":
		e, err := election.Load(*results)
		if err != nil {
			return usagef("--results: %v", err)
		}
		in.Ballots = e.TotalVotes()
		if day, err := election.DefaultDay(*results); err == nil {
			in.PollingHours = day.Close - day.Open
		}
	case *electorate == 0 && *turnout == 0:
		return usagef("give --electorate and --turnout, or --results")
	case *electorate <= 0:
		return usagef("--electorate %d must be a positive number of registered voters", *electorate)
	case *turnout <= 0 || *turnout > 1:
		return usagef("--turnout %v must be a fraction above 0 and at most 1, such as 0.6 for 60%%", *turnout)
	default:
		in.Ballots = int64(float64(*electorate) * *turnout)
	}

	r, err := plan.Size(in)
	if err != nil {
		return usagef("%v", err)
	}
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	printPlan(stdout, r)
	return nil
}

func printPlan(w io.Writer, r plan.Result) {
	fmt.Fprintf(w, "ballots                 %d\n", r.Ballots)
	fmt.Fprintf(w, "peak                    %.0f votes/s\n", r.PeakVotesPerSecond)
	fmt.Fprintf(w, "Direct PUT quota        %.0f records/s, %.0f requests/s, %.0f MiB/s per stream in %s\n",
		r.Quota.RecordsPerSecond, r.Quota.RequestsPerSecond, r.Quota.BytesPerSecond/(1<<20), r.Region)
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%-22s %10s %10s\n", "", "packed", "one/record")
	fmt.Fprintf(w, "%-22s %10d %10d\n", "record bytes", r.Packed.RecordBytes, r.Unpacked.RecordBytes)
	fmt.Fprintf(w, "%-22s %10.0f %10.0f\n", "records/s at peak", r.Packed.RecordsPerSecond, r.Unpacked.RecordsPerSecond)
	fmt.Fprintf(w, "%-22s %10.1f %10.1f\n", "requests/s at peak", r.Packed.RequestsPerSecond, r.Unpacked.RequestsPerSecond)
	fmt.Fprintf(w, "%-22s %10d %10d\n", "Firehose streams", r.Packed.Streams, r.Unpacked.Streams)
	fmt.Fprintf(w, "%-22s %10.2f %10.2f\n", "billed GB (5 KiB units)", r.Packed.BilledGB, r.Unpacked.BilledGB)
	fmt.Fprintf(w, "%-22s %10.2f %10.2f\n", "Firehose cost, USD", r.Packed.FirehoseCostUSD, r.Unpacked.FirehoseCostUSD)
	fmt.Fprintln(w)
	fmt.Fprintf(w, "bridge instances        %d\n", r.BridgeInstances)
	fmt.Fprintf(w, "Kafka partitions        %d\n", r.KafkaPartitions)
	fmt.Fprintf(w, "transform concurrency   %d (TransformReservedConcurrency)\n", r.TransformConcurrency)
	fmt.Fprintf(w, "tally concurrency       %d (one per partition)\n", r.TallyConcurrency)
	fmt.Fprintf(w, "database connections    %d\n", r.DBConnections)
	fmt.Fprintf(w, "transform cost, USD     %.2f\n", r.TransformCostUSD)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Quotas: https://docs.aws.amazon.com/firehose/latest/dev/limits.html (read 2026-12-04).")
	fmt.Fprintln(w, "Prices are estimates of us-east-1 list prices; check https://aws.amazon.com/firehose/pricing/ and https://aws.amazon.com/lambda/pricing/.")
}
