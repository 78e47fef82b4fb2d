package tally

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/votestream/votestream/internal/vote"
)

// Defaults of LocalConfig.
const (
	DefaultGroup          = "votestream-tally"
	DefaultMaxPollRecords = 5000
	DefaultRetryBackoff   = time.Second
)

// LocalConfig configures RunLocal.
type LocalConfig struct {
	// Brokers are the Kafka seed brokers, host:port. Required.
	Brokers []string
	// Group is the consumer group; default DefaultGroup. Its committed
	// offsets tell how far the ledger is, for example to broker.GroupLag.
	Group string
	// Topic is the ballots topic; default vote.VotesTopic.
	Topic string
	// AggregatesTopic receives the snapshots; default vote.AggregatesTopic.
	AggregatesTopic string
	// Pool is the ledger database, already migrated. Required.
	Pool *pgxpool.Pool
	// Logger defaults to discarding.
	Logger *slog.Logger

	// MaxPollRecords bounds the records of one batch, and so of one ledger
	// transaction; default DefaultMaxPollRecords.
	MaxPollRecords int
	// RetryBackoff is the wait before a failed batch runs again; default
	// DefaultRetryBackoff.
	RetryBackoff time.Duration
}

// RunLocal consumes Topic in a consumer group until ctx ends, and runs each
// polled batch through the same Handler as the Lambda. Offsets are committed
// only after the batch's ledger transaction committed and its snapshots were
// acknowledged. A failed batch is retried after RetryBackoff, without
// polling further records, until it succeeds or ctx ends, so nothing is
// skipped. RunLocal returns nil when ctx ends and an error only when it
// cannot start.
func RunLocal(ctx context.Context, cfg LocalConfig) error {
	if len(cfg.Brokers) == 0 || cfg.Pool == nil {
		return errors.New("tally.RunLocal: Brokers and Pool are required")
	}
	cfg.Group = cmp.Or(cfg.Group, DefaultGroup)
	cfg.Topic = cmp.Or(cfg.Topic, vote.VotesTopic)
	cfg.MaxPollRecords = cmp.Or(cfg.MaxPollRecords, DefaultMaxPollRecords)
	cfg.RetryBackoff = cmp.Or(cfg.RetryBackoff, DefaultRetryBackoff)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	log := cfg.Logger.With("group", cfg.Group, "topic", cfg.Topic)

	client, err := kgo.NewClient(
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		// A partition is not revoked while a polled batch is in progress,
		// so the commit after it never covers records another member owns.
		kgo.BlockRebalanceOnPoll(),
	)
	if err != nil {
		return fmt.Errorf("create tally consumer for %v: %w", cfg.Brokers, err)
	}
	defer client.Close()

	handler, err := NewHandler(cfg.Pool, KafkaPublisher{Client: client, Topic: cfg.AggregatesTopic}, log)
	if err != nil {
		return err
	}
	log.Info("tally consumer started", "brokers", cfg.Brokers)
	defer log.Info("tally consumer stopped")

	for {
		fetches := client.PollRecords(ctx, cfg.MaxPollRecords)
		if ctx.Err() != nil {
			client.AllowRebalance()
			return nil
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			log.Warn("fetch failed", "fetch_topic", topic, "partition", partition, "error", err)
		})

		records := fetches.Records()
		msgs := make([]Message, len(records))
		for i, r := range records {
			msgs[i] = Message{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value}
		}
		if !runUntilApplied(ctx, handler, msgs, cfg.RetryBackoff, log) {
			client.AllowRebalance()
			return nil
		}

		if len(records) > 0 {
			// The context is detached so that a stop right after the ledger
			// commit still commits the offsets, and fewer records replay.
			commitCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			if err := client.CommitRecords(commitCtx, records...); err != nil {
				log.Warn("commit offsets failed; the batch will be replayed, which changes nothing", "records", len(records), "error", err)
			}
			cancel()
		}
		client.AllowRebalance()
	}
}

// runUntilApplied runs one batch until it succeeds, and returns false when
// ctx ended first.
func runUntilApplied(ctx context.Context, h *Handler, msgs []Message, backoff time.Duration, log *slog.Logger) bool {
	for attempt := 1; ; attempt++ {
		_, err := h.HandleBatch(ctx, msgs)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		first := msgs[0]
		log.Error("tally batch failed, retrying", "attempt", attempt, "records", len(msgs),
			"partition", first.Partition, "offset", first.Offset, "error", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(backoff):
		}
	}
}
