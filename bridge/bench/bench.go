// Package bench measures the bridge's throughput on one machine: an
// embedded Kafka broker (franz-go's kfake) holds a synthetic stream of
// ballots, a consume-only loop reads it to set the ceiling, and then a
// bridge sends it to the local Firehose, which by default only checks and
// acknowledges each call. With Config.DurableFirehose it also writes every
// call to its spool with fsync before acknowledging, as votestream firehose
// does, but its stream still has no processor and no format conversion.
//
// Everything runs in this process on 127.0.0.1. The broker and the local
// Firehose share the CPUs with what is measured, so both rates are lower
// bounds of what a bridge on its own host reaches.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/votestream/votestream/bridge"
	"github.com/votestream/votestream/internal/vote"
)

// Defaults of Config.
const (
	DefaultVotes      = 500_000
	DefaultPartitions = 8
)

// Config configures Run. Zero fields take the default named in their comment.
type Config struct {
	// Votes is the number of ballots on the topic; default DefaultVotes.
	Votes int
	// Partitions is the partition count of the votes topic; default
	// DefaultPartitions, as in the demo.
	Partitions int32
	// TargetRecordBytes is bridge.Config.TargetRecordBytes; default
	// bridge.DefaultTargetRecordBytes.
	TargetRecordBytes int
	// MaxConcurrentCalls is bridge.Config.MaxConcurrentCalls; default
	// bridge.DefaultMaxConcurrentCalls.
	MaxConcurrentCalls int
	// DurableFirehose makes the local Firehose spool every call to disk with
	// fsync before acknowledging it. By default it acknowledges without
	// storing, so that only the bridge's own work is measured.
	DurableFirehose bool
	// StateDir holds the local Firehose's spool and lake; empty uses a
	// temporary directory that Run removes.
	StateDir string
	// Progress receives one line per stage; nil discards them.
	Progress io.Writer
	// Logger receives the logs of the bridge and the local Firehose; nil
	// discards them.
	Logger *slog.Logger
}

func (cfg Config) withDefaults() (Config, error) {
	if cfg.Votes == 0 {
		cfg.Votes = DefaultVotes
	}
	if cfg.Partitions == 0 {
		cfg.Partitions = DefaultPartitions
	}
	if cfg.TargetRecordBytes == 0 {
		cfg.TargetRecordBytes = bridge.DefaultTargetRecordBytes
	}
	if cfg.MaxConcurrentCalls == 0 {
		cfg.MaxConcurrentCalls = bridge.DefaultMaxConcurrentCalls
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case cfg.Votes < 1:
		return cfg, fmt.Errorf("bench: Votes %d must be 1 or more", cfg.Votes)
	case cfg.Partitions < 1:
		return cfg, fmt.Errorf("bench: Partitions %d must be 1 or more", cfg.Partitions)
	case cfg.TargetRecordBytes < 1 || cfg.TargetRecordBytes > bridge.FirehoseMaxRecordBytes:
		return cfg, fmt.Errorf("bench: TargetRecordBytes %d is outside 1 to %d", cfg.TargetRecordBytes, bridge.FirehoseMaxRecordBytes)
	case cfg.MaxConcurrentCalls < 1:
		return cfg, fmt.Errorf("bench: MaxConcurrentCalls %d must be 1 or more", cfg.MaxConcurrentCalls)
	}
	return cfg, nil
}

// Result is what Run measured. Rates are per second of wall-clock time.
type Result struct {
	Machine            Machine `json:"machine"`
	Votes              int     `json:"votes"`
	Partitions         int32   `json:"partitions"`
	TargetRecordBytes  int     `json:"target_record_bytes"`
	MaxConcurrentCalls int     `json:"max_concurrent_calls"`
	DurableFirehose    bool    `json:"durable_firehose"`
	// VoteBytes is the mean size of a ballot's Kafka value.
	VoteBytes float64 `json:"vote_bytes"`

	// ConsumeOnly is a consumer group that reads every ballot and does
	// nothing else: the ceiling of the bridge. It is the fastest of three
	// passes.
	ConsumeOnly Phase `json:"consume_only"`
	// Bridge is the bridge from the first record read until Firehose
	// accepted the last ballot. Its drain and final commit are not counted.
	Bridge BridgePhase `json:"bridge"`
	// BridgeToCeiling is Bridge.VotesPerSecond / ConsumeOnly.VotesPerSecond.
	BridgeToCeiling float64 `json:"bridge_to_ceiling"`
}

// Phase is the time and CPU that one phase took.
type Phase struct {
	Seconds        float64 `json:"seconds"`
	VotesPerSecond float64 `json:"votes_per_second"`
	// CPUSeconds is the user and system CPU time of the whole process during
	// the phase, the embedded broker and the local Firehose included.
	CPUSeconds float64 `json:"cpu_seconds"`
}

// BridgePhase adds what the bridge sent to Phase.
type BridgePhase struct {
	Phase
	FirehoseRecordsPerSecond float64 `json:"firehose_records_per_second"`
	CallsPerSecond           float64 `json:"calls_per_second"`
	// DataMiBPerSecond is record data (before base64) per second, the
	// quantity that Firehose's Direct PUT quota of 5 MiB/s (1 MiB/s outside
	// us-east-1, us-west-2 and eu-west-1) limits.
	DataMiBPerSecond float64 `json:"data_mib_per_second"`
	// DataMiBPerCPUSecond is record data per second of process CPU time: an
	// estimate of what one core sustains. It is a lower bound, because the
	// CPU time includes the broker and the local Firehose.
	DataMiBPerCPUSecond float64 `json:"data_mib_per_cpu_second"`

	Calls           int64 `json:"calls"`
	FirehoseRecords int64 `json:"firehose_records"`
	DataBytes       int64 `json:"data_bytes"`
	// RecordsPerCall and BytesPerCall are means over all PutRecordBatch
	// calls; CallFill is BytesPerCall over the 4 MiB limit of a call.
	RecordsPerCall float64 `json:"records_per_call"`
	BytesPerCall   float64 `json:"bytes_per_call"`
	CallFill       float64 `json:"call_fill"`
	// VotesPerRecord is the mean number of ballots packed in one record.
	VotesPerRecord float64 `json:"votes_per_record"`

	// BilledBytesPerVote is what Firehose bills per ballot as packed, every
	// record rounded up to 5 KiB; UnpackedBilledBytesPerVote is the same for
	// one ballot per record; PackingSaving is the ratio of the two.
	BilledBytesPerVote         float64 `json:"billed_bytes_per_vote"`
	UnpackedBilledBytesPerVote float64 `json:"unpacked_billed_bytes_per_vote"`
	PackingSaving              float64 `json:"packing_saving"`
}

// Run produces cfg.Votes synthetic ballots to an embedded broker, reads
// them three times with a consume-only loop and once with a bridge into the
// local Firehose, and returns the fastest consume-only pass and the bridge.
func Run(ctx context.Context, cfg Config) (Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Result{}, err
	}
	result := Result{
		Machine:            describeMachine(),
		Votes:              cfg.Votes,
		Partitions:         cfg.Partitions,
		TargetRecordBytes:  cfg.TargetRecordBytes,
		MaxConcurrentCalls: cfg.MaxConcurrentCalls,
		DurableFirehose:    cfg.DurableFirehose,
	}

	if cfg.StateDir == "" {
		dir, err := os.MkdirTemp("", "votestream-bench-bridge-")
		if err != nil {
			return result, fmt.Errorf("create a temporary state directory: %w", err)
		}
		defer os.RemoveAll(dir)
		cfg.StateDir = dir
	}

	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(cfg.Partitions, vote.VotesTopic, vote.DeadLetterTopic))
	if err != nil {
		return result, fmt.Errorf("start the embedded Kafka broker: %w", err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()

	fmt.Fprintf(cfg.Progress, "producing %d ballots to %s (%d partitions)\n", cfg.Votes, vote.VotesTopic, cfg.Partitions)
	valueBytes, err := produceBallots(ctx, brokers, cfg.Votes)
	if err != nil {
		return result, err
	}
	result.VoteBytes = float64(valueBytes) / float64(cfg.Votes)

	fmt.Fprintln(cfg.Progress, "measuring the consume-only ceiling")
	if result.ConsumeOnly, err = measureCeiling(ctx, brokers, cfg.Votes); err != nil {
		return result, err
	}

	fmt.Fprintln(cfg.Progress, "measuring the bridge into the local Firehose")
	if result.Bridge, err = measureBridge(ctx, brokers, cfg); err != nil {
		return result, err
	}

	if result.ConsumeOnly.VotesPerSecond > 0 {
		result.BridgeToCeiling = result.Bridge.VotesPerSecond / result.ConsumeOnly.VotesPerSecond
	}
	return result, nil
}

// errIncomplete marks a phase that ended before it read every ballot.
var errIncomplete = errors.New("ended before every ballot was read")
