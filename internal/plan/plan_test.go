package plan

import (
	"math"
	"testing"
	"time"
)

func input(ballots int64, region string) Input {
	return Input{
		Ballots: ballots, PollingHours: 15 * time.Hour, PeakFactor: 1, Region: region,
		VoteBytes: 400, RecordBytes: 20 * 1024,
		BridgeVotesPerSecond: 20_000, PartitionVotesPerSecond: 2_000,
		TransformSecondsPerMiB: 1, TransformMemoryGB: 0.5, DBConnsPerInstance: 2,
		Prices: DefaultPrices,
	}
}

func TestPeakShareOfCurve(t *testing.T) {
	// The busiest twentieth carries 8 of the curve's 109 weight units.
	if got, want := PeakShare(), 8.0/109; math.Abs(got-want) > 0.001 {
		t.Errorf("PeakShare() = %.4f, want %.4f", got, want)
	}
}

func TestQuotaForRegion(t *testing.T) {
	cases := []struct {
		region  string
		records float64
	}{
		{"us-east-1", 500_000},
		{"us-west-2", 500_000},
		{"eu-west-1", 500_000},
		{"eu-central-1", 100_000},
		{"ap-southeast-2", 100_000},
	}
	for _, c := range cases {
		if got := QuotaFor(c.region).RecordsPerSecond; got != c.records {
			t.Errorf("QuotaFor(%s).RecordsPerSecond = %v, want %v", c.region, got, c.records)
		}
	}
}

func TestSizeStreamsAndCost(t *testing.T) {
	cases := []struct {
		name            string
		ballots         int64
		region          string
		packedStreams   int
		unpackedStreams int
	}{
		// 1 M ballots over 15 h: peak 8/109 of them in 45 min, ~28 votes/s.
		{"small election", 1_000_000, "us-east-1", 1, 1},
		// 160 M ballots: peak ~4,350 votes/s, 1.7 MB/s packed or not, over the 1 MiB/s quota outside the three large regions.
		{"large election, large region", 160_000_000, "us-east-1", 1, 1},
		{"large election, other region", 160_000_000, "eu-central-1", 2, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := Size(input(c.ballots, c.region))
			if err != nil {
				t.Fatal(err)
			}
			wantPeak := float64(c.ballots) * 8 / 109 / (45 * 60)
			if math.Abs(r.PeakVotesPerSecond-wantPeak)/wantPeak > 0.01 {
				t.Errorf("PeakVotesPerSecond = %.1f, want %.1f", r.PeakVotesPerSecond, wantPeak)
			}
			if r.Packed.Streams != c.packedStreams {
				t.Errorf("Packed.Streams = %d, want %d", r.Packed.Streams, c.packedStreams)
			}
			if r.Unpacked.Streams != c.unpackedStreams {
				t.Errorf("Unpacked.Streams = %d, want %d", r.Unpacked.Streams, c.unpackedStreams)
			}
			// One vote per record bills 5 KiB per vote; packing 51 votes
			// of 400 bytes bills 20 KiB per 51 votes.
			unpackedGB := float64(c.ballots) * BillingUnit / 1e9
			if math.Abs(r.Unpacked.BilledGB-unpackedGB)/unpackedGB > 1e-9 {
				t.Errorf("Unpacked.BilledGB = %v, want %v", r.Unpacked.BilledGB, unpackedGB)
			}
			packedGB := math.Ceil(float64(c.ballots)/51) * 20 * 1024 / 1e9
			if math.Abs(r.Packed.BilledGB-packedGB)/packedGB > 1e-9 {
				t.Errorf("Packed.BilledGB = %v, want %v", r.Packed.BilledGB, packedGB)
			}
			if r.Packed.FirehoseCostUSD >= r.Unpacked.FirehoseCostUSD {
				t.Errorf("packed cost %v is not below unpacked cost %v", r.Packed.FirehoseCostUSD, r.Unpacked.FirehoseCostUSD)
			}
			if r.DBConnections != (r.TransformConcurrency+r.TallyConcurrency)*2 {
				t.Errorf("DBConnections = %d, want 2 × (%d + %d)", r.DBConnections, r.TransformConcurrency, r.TallyConcurrency)
			}
		})
	}
}

func TestSizeRejectsBadInput(t *testing.T) {
	cases := []struct {
		name   string
		change func(*Input)
	}{
		{"no ballots", func(in *Input) { in.Ballots = 0 }},
		{"no polling hours", func(in *Input) { in.PollingHours = 0 }},
		{"record smaller than vote", func(in *Input) { in.RecordBytes = 100 }},
		{"peak factor below 1", func(in *Input) { in.PeakFactor = 0.5 }},
	}
	for _, c := range cases {
		in := input(1000, "us-east-1")
		c.change(&in)
		if _, err := Size(in); err == nil {
			t.Errorf("%s: Size returned no error", c.name)
		}
	}
}
