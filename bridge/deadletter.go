package bridge

import (
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Headers of a dead-letter message. Its key and value are the source
// message's, unchanged.
const (
	HeaderReason          = "votestream-reason"
	HeaderSourceTopic     = "votestream-source-topic"
	HeaderSourcePartition = "votestream-source-partition"
	HeaderSourceOffset    = "votestream-source-offset"
)

// deadLetter writes rec to the dead-letter topic with the reason it was
// rejected, and marks it done only when the write is acknowledged. A failed
// write is retried with backoff until the drain ends, so the partition's
// watermark waits for it rather than skipping it.
func (b *Bridge) deadLetter(rec *kgo.Record, src Source, reason string) {
	b.deadLetters.Add(1)
	b.produceDeadLetter(rec, src, reason, 0)
}

func (b *Bridge) produceDeadLetter(rec *kgo.Record, src Source, reason string, attempt int) {
	// A new record per attempt, because the client owns a record until its
	// promise has run.
	out := &kgo.Record{
		Topic: b.cfg.DeadLetterTopic,
		Key:   rec.Key,
		Value: rec.Value,
		Headers: []kgo.RecordHeader{
			{Key: HeaderReason, Value: []byte(reason)},
			{Key: HeaderSourceTopic, Value: []byte(rec.Topic)},
			{Key: HeaderSourcePartition, Value: []byte(strconv.FormatInt(int64(rec.Partition), 10))},
			{Key: HeaderSourceOffset, Value: []byte(strconv.FormatInt(rec.Offset, 10))},
		},
	}
	b.client.Produce(b.workCtx, out, func(_ *kgo.Record, err error) {
		logger := b.cfg.Logger.With("topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset,
			"dead_letter_topic", b.cfg.DeadLetterTopic, "reason", reason)
		if err == nil {
			b.stats.deadLettered.Add(1)
			logger.Info("message sent to the dead-letter topic")
			b.markDone([]Source{src})
			b.deadLetters.Done()
			return
		}
		if b.workCtx.Err() != nil {
			logger.Warn("dead-letter write not acknowledged before the drain ended; the message stays uncommitted", "error", err)
			b.deadLetters.Done()
			return
		}

		wait := fullJitter(b.cfg.BackoffBase, b.cfg.BackoffMax, attempt)
		logger.Warn("dead-letter write failed; retrying, and the partition's commit waits for it",
			"attempt", attempt+1, "backoff", wait, "error", err)
		go func() {
			_ = sleepContext(b.workCtx, wait)
			b.produceDeadLetter(rec, src, reason, attempt+1)
		}()
	})
}
