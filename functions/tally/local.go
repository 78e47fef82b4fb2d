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
	DefaultMaxPollRecords = 20000
	DefaultWorkers        = 4
	DefaultRetryBackoff   = time.Second
)

// stopTimeout bounds the work that RunLocal still does after its context
// ended, which is publishing the snapshots of applied partitions and
// committing their offsets.
const stopTimeout = 10 * time.Second

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

	// MaxPollRecords bounds the records of one poll, which Workers
	// transactions share; default DefaultMaxPollRecords. The snapshots of
	// every region that a poll touches are read and published once per
	// poll, so larger polls spend less on them per ballot.
	MaxPollRecords int
	// Workers bounds the concurrent ledger transactions of one poll; default
	// DefaultWorkers. Each applies the records of whole partitions and holds
	// a connection of Pool, so a Pool with fewer connections makes workers
	// wait for one. Set it to 1 for one transaction per poll.
	Workers int
	// RetryBackoff is the wait before a failed batch runs again; default
	// DefaultRetryBackoff.
	RetryBackoff time.Duration
}

// RunLocal consumes Topic in a consumer group until ctx ends. It splits each
// polled batch into groups of whole partitions and applies each group in its
// own ledger transaction, Workers at a time. Once the transactions have
// committed, it publishes the snapshots of the touched regions and then
// commits the offsets of the poll. A failed group is retried after RetryBackoff,
// without polling further records, until it succeeds or ctx ends, so
// nothing is skipped. When ctx ends, only the partitions whose groups were
// applied and published are committed. RunLocal returns nil when ctx ends
// and an error only when it cannot start.
func RunLocal(ctx context.Context, cfg LocalConfig) error {
	if len(cfg.Brokers) == 0 || cfg.Pool == nil {
		return errors.New("tally.RunLocal: Brokers and Pool are required")
	}
	cfg.Group = cmp.Or(cfg.Group, DefaultGroup)
	cfg.Topic = cmp.Or(cfg.Topic, vote.VotesTopic)
	cfg.MaxPollRecords = cmp.Or(cfg.MaxPollRecords, DefaultMaxPollRecords)
	cfg.Workers = cmp.Or(cfg.Workers, DefaultWorkers)
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
	log.Info("tally consumer started", "brokers", cfg.Brokers, "workers", cfg.Workers, "max_poll_records", cfg.MaxPollRecords)
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
		var done []*kgo.Record
		if len(records) > 0 {
			done = applyPoll(ctx, handler, records, cfg.Workers, cfg.RetryBackoff, log)
		}
		if len(done) > 0 {
			// The context is detached so that a stop right after the ledger
			// commit still commits the offsets, and fewer records replay.
			// done holds whole partitions, so no commit covers a record of
			// a partition whose transaction did not commit.
			commitCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
			if err := client.CommitRecords(commitCtx, done...); err != nil {
				log.Warn("commit offsets failed; the batch will be replayed, which changes nothing", "records", len(done), "error", err)
			}
			cancel()
		}
		client.AllowRebalance()
		if ctx.Err() != nil {
			return nil
		}
	}
}
