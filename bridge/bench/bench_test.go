package bench

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/votestream/votestream/bridge"
	"github.com/votestream/votestream/internal/vote"
)

func TestSyntheticBallotsAreValid(t *testing.T) {
	const total = 1000
	seen := make(map[string]bool)
	for i := range total {
		value, err := json.Marshal(syntheticBallot(i, total))
		if err != nil {
			t.Fatal(err)
		}
		ballot, err := vote.ParseVote(value)
		if err != nil {
			t.Fatalf("ballot %d is invalid: %v", i, err)
		}
		if seen[ballot.VoteID] {
			t.Fatalf("ballot %d repeats vote_id %s", i, ballot.VoteID)
		}
		seen[ballot.VoteID] = true
	}
	first, _ := syntheticBallot(0, total).CastTime()
	last, _ := syntheticBallot(total-1, total).CastTime()
	if hours := last.Sub(first).Hours(); hours < 12 || hours >= 13 {
		t.Errorf("cast times span %.1f hours, want the 13 polling hours", hours)
	}
}

func TestRunSmall(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	const votes = 20_000
	result, err := Run(context.Background(), Config{Votes: votes, Partitions: 4, TargetRecordBytes: 10 * 1024, StateDir: t.TempDir()})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}

	if result.Votes != votes {
		t.Errorf("Votes = %d, want %d", result.Votes, votes)
	}
	if result.ConsumeOnly.VotesPerSecond <= 0 || result.Bridge.VotesPerSecond <= 0 {
		t.Errorf("rates consume-only %.0f and bridge %.0f votes/s, want both positive", result.ConsumeOnly.VotesPerSecond, result.Bridge.VotesPerSecond)
	}

	b := result.Bridge
	if b.Calls == 0 || b.FirehoseRecords == 0 {
		t.Fatalf("bridge made %d calls with %d records, want some", b.Calls, b.FirehoseRecords)
	}
	if b.RecordsPerCall > bridge.FirehoseMaxBatchRecords {
		t.Errorf("RecordsPerCall = %.1f, above the limit of %d", b.RecordsPerCall, bridge.FirehoseMaxBatchRecords)
	}
	if b.CallFill <= 0 || b.CallFill > 1 {
		t.Errorf("CallFill = %.3f, want in (0, 1]", b.CallFill)
	}

	// Packing puts several votes in one record, so a vote is billed less
	// than the 5 KiB unit it costs alone.
	if b.VotesPerRecord < 2 {
		t.Errorf("VotesPerRecord = %.1f, want packing of several votes per record", b.VotesPerRecord)
	}
	if b.UnpackedBilledBytesPerVote != 5*1024 {
		t.Errorf("UnpackedBilledBytesPerVote = %.0f, want 5120: an envelope of %.0f bytes is billed as one 5 KiB unit", b.UnpackedBilledBytesPerVote, result.VoteBytes)
	}
	if b.BilledBytesPerVote >= b.UnpackedBilledBytesPerVote {
		t.Errorf("BilledBytesPerVote = %.0f, want less than unpacked %.0f", b.BilledBytesPerVote, b.UnpackedBilledBytesPerVote)
	}
	if got, want := b.PackingSaving, b.UnpackedBilledBytesPerVote/b.BilledBytesPerVote; got < want*0.999 || got > want*1.001 {
		t.Errorf("PackingSaving = %.3f, want unpacked / packed = %.3f", got, want)
	}
	if got, want := b.DataBytes, int64(float64(votes)*result.VoteBytes); got < want {
		t.Errorf("DataBytes = %d, want at least the %d bytes of the ballots, because every envelope carries its ballot", got, want)
	}
}

func TestConfigInvalid(t *testing.T) {
	cases := map[string]Config{
		"negative votes":      {Votes: -1},
		"negative partitions": {Partitions: -1},
		"record over limit":   {TargetRecordBytes: bridge.FirehoseMaxRecordBytes + 1},
		"negative calls":      {MaxConcurrentCalls: -1},
	}
	for name, cfg := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Run(context.Background(), cfg); err == nil {
				t.Errorf("Run accepted %+v", cfg)
			}
		})
	}
}

// BenchmarkBridge runs Run on b.N * 10,000 ballots and reports both rates.
func BenchmarkBridge(b *testing.B) {
	b.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	result, err := Run(context.Background(), Config{Votes: b.N * 10_000, StateDir: b.TempDir()})
	if err != nil {
		b.Fatalf("Run: %v", err)
	}
	b.ReportMetric(result.ConsumeOnly.VotesPerSecond, "consume-votes/s")
	b.ReportMetric(result.Bridge.VotesPerSecond, "bridge-votes/s")
	b.ReportMetric(result.BridgeToCeiling, "ratio")
	b.ReportMetric(result.Bridge.BytesPerCall, "bytes/call")
	b.ReportMetric(result.Bridge.BilledBytesPerVote, "billed-B/vote")
}
