// Package plan sizes an AWS deployment of votestream for one election day.
// From the peak ballot rate of a turnout curve it derives the Firehose
// streams needed under the Direct PUT quotas, bridge instances, Kafka
// partitions, Lambda concurrency and database connections. It also prices
// Firehose with and without packing.
package plan

import (
	"fmt"
	"math"
	"time"

	"github.com/votestream/votestream/internal/election"
)

// Quota is the Direct PUT quota of one Firehose stream.
//
// Source: https://docs.aws.amazon.com/firehose/latest/dev/limits.html,
// read 2026-12-04. The quotas are soft: AWS raises them on request.
type Quota struct {
	RecordsPerSecond  float64 `json:"records_per_second"`
	RequestsPerSecond float64 `json:"requests_per_second"`
	BytesPerSecond    float64 `json:"bytes_per_second"`
}

// Quotas per region: 500,000 records/s, 2,000 requests/s and 5 MiB/s in
// us-east-1, us-west-2 and eu-west-1; 100,000, 1,000 and 1 MiB/s elsewhere.
var (
	largeRegionQuota = Quota{RecordsPerSecond: 500_000, RequestsPerSecond: 2_000, BytesPerSecond: 5 << 20}
	otherRegionQuota = Quota{RecordsPerSecond: 100_000, RequestsPerSecond: 1_000, BytesPerSecond: 1 << 20}
)

// QuotaFor returns the Direct PUT quota of a stream in region.
func QuotaFor(region string) Quota {
	switch region {
	case "us-east-1", "us-west-2", "eu-west-1":
		return largeRegionQuota
	}
	return otherRegionQuota
}

// Prices are list prices in US dollars.
//
// NOTE: these are unverified estimates of the us-east-1 on-demand prices of
// https://aws.amazon.com/firehose/pricing/ and https://aws.amazon.com/lambda/pricing/.
// Neither page's dollar figures could be read on 2026-12-04, so check both
// before relying on a cost.
type Prices struct {
	// IngestPerGB is Direct PUT ingestion, first 500 TB a month, billed per
	// record rounded up to 5 KiB.
	IngestPerGB float64
	// ConversionPerGB is record format conversion to Parquet, billed on the
	// same rounded bytes.
	ConversionPerGB float64
	// PartitioningPerGB is dynamic partitioning, per GB delivered to S3.
	PartitioningPerGB float64
	// LambdaPerGBSecond is arm64 Lambda duration.
	LambdaPerGBSecond float64
}

// DefaultPrices are the estimates described on Prices.
var DefaultPrices = Prices{
	IngestPerGB:       0.029,
	ConversionPerGB:   0.018,
	PartitioningPerGB: 0.020,
	LambdaPerGBSecond: 0.0000133334,
}

// BillingUnit is Firehose's rounding of each record for ingestion
// (https://docs.aws.amazon.com/firehose/latest/dev/limits.html).
const BillingUnit = 5 * 1024

// Input describes the election and the deployment to size.
type Input struct {
	// Ballots is the number of ballots cast: electorate × turnout, or the
	// total of a results file.
	Ballots int64
	// PollingHours is how long polls are open.
	PollingHours time.Duration
	// PeakFactor multiplies the busiest twentieth of the day's average rate,
	// for bursts shorter than the curve shows (1 means none).
	PeakFactor float64
	Region     string

	// VoteBytes is one ballot envelope as the bridge sends it.
	VoteBytes int
	// RecordBytes is the packed record size (bridge --target-record-bytes).
	RecordBytes int
	// BridgeVotesPerSecond is the send rate of one bridge instance.
	BridgeVotesPerSecond float64
	// PartitionVotesPerSecond is the rate at which the tally function's
	// event source records the ballots of one partition.
	PartitionVotesPerSecond float64
	// TransformSecondsPerMiB is the transform function's run time per MiB
	// of input, and TransformMemoryGB its memory size.
	TransformSecondsPerMiB float64
	TransformMemoryGB      float64
	// DBConnsPerInstance is each function instance's pool size.
	DBConnsPerInstance int

	Prices Prices
}

// Defaults of the estimates in Input. Each is an estimate unless noted.
const (
	// DefaultVoteBytes: a votes_topic ballot (~200 bytes) in the bridge's
	// envelope with its Kafka coordinates.
	DefaultVoteBytes = 350
	// DefaultRecordBytes equals bridge.DefaultTargetRecordBytes.
	DefaultRecordBytes = 20 * 1024
	// DefaultBridgeVotesPerSecond is under half of the 54,500 votes/s that
	// the bridge drained locally in docs/benchmarks.md (UK 2024 replay, 2 cores).
	DefaultBridgeVotesPerSecond = 20_000
	// DefaultPartitionVotesPerSecond: one ledger transaction per batch of 500.
	DefaultPartitionVotesPerSecond = 2_000
	// DefaultTransformSecondsPerMiB: one enrichment query per batch, about
	// 3,000 ballots per MiB.
	DefaultTransformSecondsPerMiB = 1.0
	DefaultTransformMemoryGB      = 0.5
	DefaultDBConnsPerInstance     = 2
	DefaultPeakFactor             = 2.0
)

// Result is the sizing of one election day.
type Result struct {
	Ballots            int64   `json:"ballots"`
	PeakVotesPerSecond float64 `json:"peak_votes_per_second"`
	Region             string  `json:"region"`
	Quota              Quota   `json:"quota"`

	// Packed is the bridge sending packed records with Direct PUT; Unpacked
	// is one vote per Direct PUT record. A stream reading MSK is billed per GB
	// without the 5 KiB rounding, at its own rate, which this plan does not price.
	Packed   Delivery `json:"packed"`
	Unpacked Delivery `json:"unpacked"`

	BridgeInstances      int `json:"bridge_instances"`
	KafkaPartitions      int `json:"kafka_partitions"`
	TransformConcurrency int `json:"transform_concurrency"`
	TallyConcurrency     int `json:"tally_concurrency"`
	DBConnections        int `json:"db_connections"`

	TransformCostUSD float64 `json:"transform_cost_usd"`
}

// Delivery is the Firehose load and cost of one way of sending the ballots.
type Delivery struct {
	RecordBytes       int     `json:"record_bytes"`
	RecordsPerSecond  float64 `json:"records_per_second"`
	RequestsPerSecond float64 `json:"requests_per_second"`
	BytesPerSecond    float64 `json:"bytes_per_second"`
	Streams           int     `json:"streams"`
	BilledGB          float64 `json:"billed_gb"`
	FirehoseCostUSD   float64 `json:"firehose_cost_usd"`
}

// PeakShare returns the share of a day's ballots cast in its busiest
// twentieth, from election.Day.CastAt's turnout curve.
func PeakShare() float64 {
	const samples = 100_000
	day := election.Day{Date: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), Open: 0, Close: 20 * time.Hour}
	var bins [20]int
	for i := int64(0); i < samples; i++ {
		hour := day.CastAt(i, samples).Hour()
		bins[hour]++
	}
	peak := 0
	for _, n := range bins {
		peak = max(peak, n)
	}
	return float64(peak) / samples
}

// Size computes the plan for in.
func Size(in Input) (Result, error) {
	if in.Ballots <= 0 {
		return Result{}, fmt.Errorf("ballots = %d: need at least one", in.Ballots)
	}
	if in.PollingHours <= 0 {
		return Result{}, fmt.Errorf("polling hours = %s: need a positive duration", in.PollingHours)
	}
	if in.VoteBytes <= 0 || in.RecordBytes < in.VoteBytes {
		return Result{}, fmt.Errorf("record of %d bytes cannot hold a vote of %d bytes", in.RecordBytes, in.VoteBytes)
	}
	if in.PeakFactor < 1 {
		return Result{}, fmt.Errorf("peak factor %g is below 1", in.PeakFactor)
	}

	twentieth := in.PollingHours.Seconds() / 20
	peak := float64(in.Ballots) * PeakShare() / twentieth * in.PeakFactor
	quota := QuotaFor(in.Region)
	r := Result{Ballots: in.Ballots, PeakVotesPerSecond: peak, Region: in.Region, Quota: quota}

	// Packed records hold whole votes up to RecordBytes.
	votesPerRecord := in.RecordBytes / in.VoteBytes
	r.Packed = deliver(in, quota, peak, votesPerRecord*in.VoteBytes, votesPerRecord)
	r.Unpacked = deliver(in, quota, peak, in.VoteBytes, 1)

	r.BridgeInstances = ceil(peak / in.BridgeVotesPerSecond)
	r.KafkaPartitions = max(r.BridgeInstances, ceil(peak/in.PartitionVotesPerSecond))
	// The MSK event source runs at most one tally instance per partition.
	r.TallyConcurrency = r.KafkaPartitions
	// Firehose invokes the transform per MiB buffered; each invocation runs
	// TransformSecondsPerMiB, so the concurrency is the MiB/s in flight.
	mibPerSecond := r.Packed.BytesPerSecond / (1 << 20)
	r.TransformConcurrency = max(1, ceil(mibPerSecond*in.TransformSecondsPerMiB))
	r.DBConnections = (r.TransformConcurrency + r.TallyConcurrency) * in.DBConnsPerInstance

	totalMiB := float64(in.Ballots) * float64(in.VoteBytes) / (1 << 20)
	r.TransformCostUSD = totalMiB * in.TransformSecondsPerMiB * in.TransformMemoryGB * in.Prices.LambdaPerGBSecond
	return r, nil
}

func deliver(in Input, quota Quota, peakVotes float64, recordBytes, votesPerRecord int) Delivery {
	d := Delivery{RecordBytes: recordBytes}
	d.RecordsPerSecond = peakVotes / float64(votesPerRecord)
	// PutRecordBatch takes at most 500 records and 4 MiB per call.
	perRequest := min(500, (4<<20)/recordBytes)
	d.RequestsPerSecond = d.RecordsPerSecond / float64(perRequest)
	d.BytesPerSecond = d.RecordsPerSecond * float64(recordBytes)
	d.Streams = max(1, ceil(d.RecordsPerSecond/quota.RecordsPerSecond),
		ceil(d.RequestsPerSecond/quota.RequestsPerSecond), ceil(d.BytesPerSecond/quota.BytesPerSecond))

	records := math.Ceil(float64(in.Ballots) / float64(votesPerRecord))
	billedRecordBytes := math.Ceil(float64(recordBytes)/BillingUnit) * BillingUnit
	d.BilledGB = records * billedRecordBytes / 1e9
	deliveredGB := float64(in.Ballots) * float64(in.VoteBytes) / 1e9
	d.FirehoseCostUSD = d.BilledGB*(in.Prices.IngestPerGB+in.Prices.ConversionPerGB) + deliveredGB*in.Prices.PartitioningPerGB
	return d
}

func ceil(x float64) int {
	return int(math.Ceil(x - 1e-9))
}
