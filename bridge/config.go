package bridge

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/votestream/votestream/internal/vote"
)

// Firehose limits of PutRecordBatch, from the Amazon Data Firehose API
// reference: at most 500 records and 4 MiB per call, 1,000 KiB per record
// before base64 encoding.
const (
	FirehoseMaxBatchRecords = 500
	FirehoseMaxBatchBytes   = 4 * 1024 * 1024
	FirehoseMaxRecordBytes  = 1000 * 1024
)

// Defaults of Config.
const (
	DefaultGroup = "votestream-bridge"

	// DefaultTargetRecordBytes is 20 KiB. It is a multiple of the 5 KiB
	// billing unit, so a full record is billed at its own size, and an
	// envelope of about 300 bytes leaves at most 1.5% of it unused. At 20 KiB
	// a 4 MiB call holds about 200 records, so the byte limit sets the size of
	// a call; with 5 KiB records the 500-record limit would cap a call at
	// 2.5 MiB. A record that the transformation Lambda fails as a whole then
	// takes about 70 votes to the error prefix.
	DefaultTargetRecordBytes = 20 * 1024

	DefaultFlushInterval      = 200 * time.Millisecond
	DefaultMaxConcurrentCalls = 4
	DefaultMaxPendingRecords  = 100_000
	DefaultMaxPollRecords     = 10_000
	DefaultBackoffBase        = 100 * time.Millisecond
	DefaultBackoffMax         = 20 * time.Second
	DefaultCallTimeout        = 30 * time.Second
	DefaultCommitInterval     = time.Second
	DefaultDrainTimeout       = 30 * time.Second
)

// Config configures a Bridge. Zero fields take the default named in their
// comment.
type Config struct {
	// Brokers are the seed brokers as host:port. Required.
	Brokers []string
	// Topic is the topic of ballots to mirror; default vote.VotesTopic.
	Topic string
	// Group is the consumer group; default DefaultGroup. Members of one group
	// share the partitions of Topic.
	Group string
	// InstanceID, when set, makes this member a static member of Group
	// (KIP-345) under that id. A restarted process with the same id gets its
	// partitions back at once, without a rebalance of the group, which makes
	// a crash and restart cheap. A static member does not leave the group on
	// shutdown: its partitions wait for it until the session timeout (45 s by
	// default in franz-go) before the group moves them. Two running members
	// must never share an id.
	InstanceID string
	// DeadLetterTopic receives messages that cannot be sent to Firehose;
	// default vote.DeadLetterTopic. Run creates it with the broker's default
	// partition count and replication factor when it does not exist, and
	// fails when it can neither find nor create it.
	DeadLetterTopic string

	// StreamName is the Firehose delivery stream. Required.
	StreamName string
	// Firehose is the Firehose client. Required.
	Firehose Firehose

	// TargetRecordBytes is the size at which a packed Firehose record is
	// closed; default DefaultTargetRecordBytes. A single envelope larger than
	// it still becomes a record of its own, up to MaxRecordBytes.
	TargetRecordBytes int
	// MaxRecordBytes is the largest Firehose record; default and maximum
	// FirehoseMaxRecordBytes (1,024,000 bytes). An envelope that does not fit
	// goes to the dead-letter topic.
	MaxRecordBytes int
	// MaxBatchRecords and MaxBatchBytes bound one PutRecordBatch call;
	// defaults and maximums FirehoseMaxBatchRecords and FirehoseMaxBatchBytes.
	// MaxBatchBytes counts record data, not the base64 request body.
	MaxBatchRecords int
	MaxBatchBytes   int
	// FlushInterval is how long a partly filled record or batch may wait for
	// more votes before it is sent; default DefaultFlushInterval.
	FlushInterval time.Duration

	// MaxConcurrentCalls is the largest number of PutRecordBatch calls in
	// flight at once; default DefaultMaxConcurrentCalls. Throttling
	// (ServiceUnavailableException) lowers the limit in use, down to 1, and
	// calls without throttling raise it back to this value.
	MaxConcurrentCalls int
	// MaxPendingRecords bounds the Kafka records read but not yet done; the
	// bridge stops reading at this number until Firehose or the dead-letter
	// topic catches up. Default DefaultMaxPendingRecords.
	MaxPendingRecords int
	// MaxPollRecords bounds the records taken from one poll; default
	// DefaultMaxPollRecords. Rebalances wait while a poll is processed.
	MaxPollRecords int

	// MaxRetries is the number of retries of one batch after which Run stops
	// with an error; 0, the default, retries until the drain ends. Either way
	// records that Firehose has not accepted are not committed.
	MaxRetries int
	// BackoffBase is the first retry backoff, doubled on each retry up to
	// BackoffMax; defaults DefaultBackoffBase and DefaultBackoffMax. Each wait
	// is drawn uniformly between zero and that bound.
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// CallTimeout bounds one PutRecordBatch call; default DefaultCallTimeout.
	CallTimeout time.Duration

	// CommitInterval is how often the watermarks are committed; default
	// DefaultCommitInterval. Revocation and shutdown commit at once.
	CommitInterval time.Duration
	// DrainTimeout bounds the shutdown after ctx is cancelled: flushing,
	// waiting for Firehose and dead-letter acknowledgements, and the final
	// commit. Default DefaultDrainTimeout.
	DrainTimeout time.Duration

	// Logger receives starts, stops, retries and errors; default discards them.
	Logger *slog.Logger
	// KafkaOpts are added after the bridge's own client options, for TLS,
	// SASL and tuning. Options that change the consumer group, the topics or
	// committing break the watermark contract.
	KafkaOpts []kgo.Opt
}

// withDefaults returns cfg with zero fields set to their defaults, or an
// error that names the first invalid field.
func (cfg Config) withDefaults() (Config, error) {
	setString(&cfg.Topic, vote.VotesTopic)
	setString(&cfg.Group, DefaultGroup)
	setString(&cfg.DeadLetterTopic, vote.DeadLetterTopic)
	setInt(&cfg.TargetRecordBytes, DefaultTargetRecordBytes)
	setInt(&cfg.MaxRecordBytes, FirehoseMaxRecordBytes)
	setInt(&cfg.MaxBatchRecords, FirehoseMaxBatchRecords)
	setInt(&cfg.MaxBatchBytes, FirehoseMaxBatchBytes)
	setDuration(&cfg.FlushInterval, DefaultFlushInterval)
	setInt(&cfg.MaxConcurrentCalls, DefaultMaxConcurrentCalls)
	setInt(&cfg.MaxPendingRecords, DefaultMaxPendingRecords)
	setInt(&cfg.MaxPollRecords, DefaultMaxPollRecords)
	setDuration(&cfg.BackoffBase, DefaultBackoffBase)
	setDuration(&cfg.BackoffMax, DefaultBackoffMax)
	setDuration(&cfg.CallTimeout, DefaultCallTimeout)
	setDuration(&cfg.CommitInterval, DefaultCommitInterval)
	setDuration(&cfg.DrainTimeout, DefaultDrainTimeout)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}

	switch {
	case len(cfg.Brokers) == 0:
		return cfg, errors.New("bridge config: Brokers is empty: give at least one host:port")
	case cfg.StreamName == "":
		return cfg, errors.New("bridge config: StreamName is empty: name the Firehose delivery stream")
	case cfg.Firehose == nil:
		return cfg, errors.New("bridge config: Firehose client is nil")
	case cfg.Topic == cfg.DeadLetterTopic:
		return cfg, fmt.Errorf("bridge config: Topic and DeadLetterTopic are both %q: use a separate dead-letter topic", cfg.Topic)
	case cfg.MaxRecordBytes < 0 || cfg.MaxRecordBytes > FirehoseMaxRecordBytes:
		return cfg, fmt.Errorf("bridge config: MaxRecordBytes %d is outside 1 to %d", cfg.MaxRecordBytes, FirehoseMaxRecordBytes)
	case cfg.TargetRecordBytes < 0 || cfg.TargetRecordBytes > cfg.MaxRecordBytes:
		return cfg, fmt.Errorf("bridge config: TargetRecordBytes %d is outside 1 to MaxRecordBytes (%d)", cfg.TargetRecordBytes, cfg.MaxRecordBytes)
	case cfg.MaxBatchRecords < 0 || cfg.MaxBatchRecords > FirehoseMaxBatchRecords:
		return cfg, fmt.Errorf("bridge config: MaxBatchRecords %d is outside 1 to %d", cfg.MaxBatchRecords, FirehoseMaxBatchRecords)
	case cfg.MaxBatchBytes < cfg.MaxRecordBytes || cfg.MaxBatchBytes > FirehoseMaxBatchBytes:
		return cfg, fmt.Errorf("bridge config: MaxBatchBytes %d is outside MaxRecordBytes (%d) to %d", cfg.MaxBatchBytes, cfg.MaxRecordBytes, FirehoseMaxBatchBytes)
	case cfg.MaxConcurrentCalls < 0, cfg.MaxPendingRecords < 0, cfg.MaxPollRecords < 0, cfg.MaxRetries < 0:
		return cfg, errors.New("bridge config: MaxConcurrentCalls, MaxPendingRecords, MaxPollRecords and MaxRetries must not be negative")
	case cfg.FlushInterval < 0, cfg.BackoffBase < 0, cfg.BackoffMax < cfg.BackoffBase, cfg.CallTimeout < 0, cfg.CommitInterval < 0, cfg.DrainTimeout < 0:
		return cfg, errors.New("bridge config: durations must not be negative, and BackoffMax must be at least BackoffBase")
	}
	return cfg, nil
}

func setString(field *string, def string) {
	if *field == "" {
		*field = def
	}
}

func setInt(field *int, def int) {
	if *field == 0 {
		*field = def
	}
}

func setDuration(field *time.Duration, def time.Duration) {
	if *field == 0 {
		*field = def
	}
}
