package tally

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Handler applies batches of votes_topic records to the ledger and publishes
// the snapshots of the regions they touch. The Lambda and the local runner
// share it.
type Handler struct {
	pool      *pgxpool.Pool
	ledger    *Ledger
	publisher Publisher
	logger    *slog.Logger
}

// NewHandler returns a Handler. pool and publisher are required; a nil
// logger discards logs.
func NewHandler(pool *pgxpool.Pool, publisher Publisher, logger *slog.Logger) (*Handler, error) {
	if pool == nil || publisher == nil {
		return nil, errors.New("tally handler: a pool and a publisher are required")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{pool: pool, ledger: NewLedger(pool, logger), publisher: publisher, logger: logger}, nil
}

// HandleBatch applies msgs in one ledger transaction, then reads and
// publishes the snapshots of every region the batch touched. An error means
// the caller must not commit the batch's offsets: running the batch again is
// safe, because Apply is idempotent and a snapshot is a whole count.
func (h *Handler) HandleBatch(ctx context.Context, msgs []Message) (BatchResult, error) {
	if len(msgs) == 0 {
		return BatchResult{}, nil
	}
	result, err := h.ledger.Apply(ctx, msgs)
	if err != nil {
		return result, err
	}
	published, err := h.publishSnapshots(ctx, result.Touched)
	if err != nil {
		return result, fmt.Errorf("after applying %d records: %w", len(msgs), err)
	}
	h.logger.Debug("batch applied", "records", len(msgs), "accepted", result.Accepted, "rejected", result.Rejected,
		"redelivered", result.Redelivered, "replayed", result.Replayed, "snapshots", published)
	return result, nil
}

// publishSnapshots reads the current snapshots of keys and publishes them,
// and returns how many it published. It must run after the ledger
// transactions that touched keys have committed, so that the snapshots
// contain their counts.
func (h *Handler) publishSnapshots(ctx context.Context, keys []RegionKey) (int, error) {
	snapshots, err := Snapshots(ctx, h.pool, keys)
	if err != nil {
		return 0, err
	}
	if err := h.publisher.Publish(ctx, snapshots); err != nil {
		return 0, err
	}
	return len(snapshots), nil
}

// HandleKafkaEvent is the Lambda entry point for an MSK or self-managed
// Kafka event source. Keys and values arrive base64-encoded. Returning an
// error makes the event source retry the whole batch, which the ledger absorbs.
func (h *Handler) HandleKafkaEvent(ctx context.Context, event events.KafkaEvent) error {
	msgs, err := MessagesFromEvent(event)
	if err != nil {
		return err
	}
	result, err := h.HandleBatch(ctx, msgs)
	if err != nil {
		h.logger.Error("tally batch failed", "records", len(msgs), "source", event.EventSourceARN, "error", err)
		return err
	}
	h.logger.Info("tally batch applied", "records", len(msgs), "accepted", result.Accepted, "rejected", result.Rejected,
		"redelivered", result.Redelivered, "replayed", result.Replayed)
	return nil
}

// MessagesFromEvent decodes the records of a Kafka event. A key or value
// that is not valid base64 fails the event, because it means the event
// source and this function disagree on the format, not that a ballot is bad.
func MessagesFromEvent(event events.KafkaEvent) ([]Message, error) {
	var msgs []Message
	for group, records := range event.Records {
		for _, r := range records {
			key, err := base64.StdEncoding.DecodeString(r.Key)
			if err != nil {
				return nil, fmt.Errorf("record %s offset %d: key is not base64: %w", group, r.Offset, err)
			}
			value, err := base64.StdEncoding.DecodeString(r.Value)
			if err != nil {
				return nil, fmt.Errorf("record %s offset %d: value is not base64: %w", group, r.Offset, err)
			}
			msgs = append(msgs, Message{Topic: r.Topic, Partition: int32(r.Partition), Offset: r.Offset, Key: key, Value: value})
		}
	}
	sortMessages(msgs)
	return msgs, nil
}
