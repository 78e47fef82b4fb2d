package bridge

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/votestream/votestream/internal/vote"
)

// finalCommitTimeout bounds the last commit and the group leave after the
// drain, which run even when the drain used up DrainTimeout.
const finalCommitTimeout = 10 * time.Second

// Bridge mirrors a Kafka topic of ballots into a Firehose delivery stream.
// Create it with New and start it with Run.
type Bridge struct {
	cfg    Config
	sender *Sender
	stats  *counters
	limit  *callLimit

	client  *kgo.Client
	started atomic.Bool

	// workCtx outlives the ctx given to Run by the drain, so that sends and
	// dead-letter writes can finish after shutdown begins.
	workCtx context.Context
	// fail stops consuming with an error, such as a batch that ran out of retries.
	fail context.CancelCauseFunc

	// mu guards marks and pending. Kafka callbacks, the consumer loop,
	// senders and dead-letter promises all update them.
	mu sync.Mutex
	// marks holds the watermark of every partition this member owns.
	marks map[int32]*Watermark
	// pending counts records read and not yet done, on any watermark.
	pending int
	// progress receives a value, without blocking, when pending decreases.
	progress chan struct{}
	// highWater holds the high watermark of each owned partition as of its
	// last fetch, for the commit lag metric.
	highWater map[int32]int64

	// state is the stage of Run that /healthz and /readyz report.
	state atomic.Int32

	// commitMu serializes commits, so that a periodic commit computed before a
	// revocation cannot land after the revocation's commit. It guards committed.
	commitMu  sync.Mutex
	committed map[int32]int64

	// deadLetters counts dead-letter writes that have not finished.
	deadLetters sync.WaitGroup

	// The consumer loop alone uses the fields below.
	packer      *Packer
	batcher     batcher
	ready       [][]Record
	oldestSince time.Time
	// envelope is the scratch buffer of the envelope being packed.
	envelope []byte
	keys     keyCache
}

// New validates cfg and returns a bridge. It does not connect to Kafka.
func New(cfg Config) (*Bridge, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	b := &Bridge{
		cfg:       cfg,
		marks:     make(map[int32]*Watermark),
		progress:  make(chan struct{}, 1),
		committed: make(map[int32]int64),
		highWater: make(map[int32]int64),
		stats:     newCounters(),
		limit:     newCallLimit(cfg.MaxConcurrentCalls),
		packer:    NewPacker(cfg.TargetRecordBytes),
		batcher:   batcher{maxRecords: cfg.MaxBatchRecords, maxBytes: cfg.MaxBatchBytes},
	}
	b.sender = &Sender{
		Firehose:    cfg.Firehose,
		StreamName:  cfg.StreamName,
		BackoffBase: cfg.BackoffBase,
		BackoffMax:  cfg.BackoffMax,
		MaxRetries:  cfg.MaxRetries,
		CallTimeout: cfg.CallTimeout,
		Logger:      cfg.Logger,
		OnAccepted:  func(rec Record) { b.markDone(rec.Sources) },
		stats:       b.stats,
		limit:       b.limit,
	}
	return b, nil
}

// Stats returns the bridge's counters. It is safe to call at any time.
func (b *Bridge) Stats() Stats {
	return b.stats.snapshot()
}

// Run consumes until ctx is cancelled and then drains: it stops fetching,
// sends what it has packed, waits up to DrainTimeout for Firehose and the
// dead-letter topic to acknowledge, commits the watermarks and leaves the
// group. It returns nil when every record read was done before the drain
// ended, and an error when some were not (they stay uncommitted and the
// group's next member reads them again) or when consuming failed.
// Run may be called once.
func (b *Bridge) Run(ctx context.Context) error {
	if !b.started.CompareAndSwap(false, true) {
		return errors.New("bridge: Run was already called")
	}
	cfg := b.cfg
	logger := cfg.Logger

	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		// Rebalances wait until a poll's records are registered in their
		// watermarks, so no record of a revoked partition is registered late.
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(b.onAssigned),
		kgo.OnPartitionsRevoked(b.onRevoked),
		kgo.OnPartitionsLost(b.onLost),
	}
	if cfg.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(cfg.InstanceID))
	}
	client, err := kgo.NewClient(append(opts, cfg.KafkaOpts...)...)
	if err != nil {
		return fmt.Errorf("create Kafka client for brokers %v: %w", cfg.Brokers, err)
	}
	b.client = client
	b.state.Store(int32(stateStarting))

	if err := b.ensureDeadLetterTopic(ctx); err != nil {
		client.Close()
		b.state.Store(int32(stateFailed))
		return err
	}

	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	b.workCtx = workCtx
	consumeCtx, fail := context.WithCancelCause(ctx)
	defer fail(nil)
	b.fail = fail

	logger.Info("bridge started", "brokers", cfg.Brokers, "topic", cfg.Topic, "group", cfg.Group,
		"dead_letter_topic", cfg.DeadLetterTopic, "stream", cfg.StreamName,
		"target_record_bytes", cfg.TargetRecordBytes, "flush_interval", cfg.FlushInterval.String())

	batches := make(chan []Record)
	var senders sync.WaitGroup
	for range cfg.MaxConcurrentCalls {
		senders.Go(func() {
			for batch := range batches {
				b.send(workCtx, batch)
			}
		})
	}

	commitCtx, stopCommits := context.WithCancel(workCtx)
	var committer sync.WaitGroup
	committer.Go(func() { b.commitPeriodically(commitCtx) })

	b.state.Store(int32(stateConsuming))
	consumeErr := b.consume(consumeCtx, batches)
	if cause := context.Cause(consumeCtx); consumeErr == nil && cause != nil && !errors.Is(cause, context.Canceled) {
		consumeErr = cause
	}
	b.state.Store(int32(stateDraining))

	// Drain: everything below is bounded by DrainTimeout through workCtx.
	logger.Info("bridge draining", "pending_records", b.pendingCount(), "drain_timeout", cfg.DrainTimeout.String())
	drainTimer := time.AfterFunc(cfg.DrainTimeout, cancelWork)
	defer drainTimer.Stop()

	b.flush()
	for _, batch := range b.ready {
		select {
		case batches <- batch:
		case <-workCtx.Done():
		}
	}
	b.ready = nil
	close(batches)
	senders.Wait()
	waitOrDone(&b.deadLetters, workCtx)

	stopCommits()
	committer.Wait()

	finalCtx, cancelFinal := context.WithTimeout(context.WithoutCancel(ctx), finalCommitTimeout)
	defer cancelFinal()
	if err := b.commitWatermarks(finalCtx); err != nil {
		logger.Error("final commit failed; the group's next member re-reads from the last commit", "error", err)
	}
	if err := client.LeaveGroupContext(finalCtx); err != nil {
		logger.Error("leave consumer group failed", "group", cfg.Group, "error", err)
	}
	client.Close()

	b.sender.FlushRetryWarnings()
	notDone := b.pendingCount()
	logger.Info("bridge stopped", "stats", b.Stats(), "records_not_done", notDone)
	if consumeErr != nil {
		b.state.Store(int32(stateFailed))
	} else {
		b.state.Store(int32(stateStopped))
	}
	switch {
	case consumeErr != nil:
		return consumeErr
	case notDone > 0:
		return fmt.Errorf("drain ended after %s with %d records not acknowledged; they were not committed and will be read again", cfg.DrainTimeout, notDone)
	}
	return nil
}

// consume reads records until ctx ends and hands complete batches to the
// senders. It stops reading while all senders are busy or while
// MaxPendingRecords records are not done.
func (b *Bridge) consume(ctx context.Context, batches chan<- []Record) error {
	cfg := b.cfg
	for {
		for len(b.ready) > 0 {
			select {
			case batches <- b.ready[0]:
				b.ready = b.ready[1:]
			case <-ctx.Done():
				return nil
			}
		}

		if b.pendingCount() >= cfg.MaxPendingRecords {
			// Send what is packed, because the pending records may be in it.
			b.flush()
			if len(b.ready) > 0 {
				continue
			}
			select {
			case <-b.progress:
			case <-ctx.Done():
				return nil
			}
			continue
		}

		pollCtx, cancel := ctx, context.CancelFunc(func() {})
		if !b.oldestSince.IsZero() {
			pollCtx, cancel = context.WithDeadline(ctx, b.oldestSince.Add(cfg.FlushInterval))
		}
		fetches := b.client.PollRecords(pollCtx, cfg.MaxPollRecords)
		cancel()

		fetchErr := b.checkFetchErrors(fetches)
		b.noteHighWatermarks(fetches)
		fetches.EachRecord(b.handle)
		b.client.AllowRebalance()
		if fetchErr != nil {
			return fetchErr
		}

		if b.oldestSince.IsZero() && (b.packer.Len() > 0 || b.batcher.len() > 0) {
			b.oldestSince = time.Now()
		}
		if !b.oldestSince.IsZero() && time.Since(b.oldestSince) >= cfg.FlushInterval {
			b.flush()
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// checkFetchErrors logs the errors of a poll and returns the one that ends
// consuming: a closed client. The client retries other errors itself.
func (b *Bridge) checkFetchErrors(fetches kgo.Fetches) error {
	for _, fe := range fetches.Errors() {
		switch {
		case errors.Is(fe.Err, context.Canceled), errors.Is(fe.Err, context.DeadlineExceeded):
		case errors.Is(fe.Err, kgo.ErrClientClosed):
			return fmt.Errorf("consume %q: %w", b.cfg.Topic, fe.Err)
		default:
			b.cfg.Logger.Error("fetch failed", "topic", fe.Topic, "partition", fe.Partition, "error", fe.Err)
		}
	}
	return nil
}

// noteHighWatermarks records the high watermark of every partition in
// fetches, for the commit lag metric.
func (b *Bridge) noteHighWatermarks(fetches kgo.Fetches) {
	b.mu.Lock()
	defer b.mu.Unlock()
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if p.Topic == b.cfg.Topic && p.Err == nil && p.HighWatermark >= 0 {
			b.highWater[p.Partition] = p.HighWatermark
		}
	})
}

// handle registers rec in its partition's watermark and then packs it, or
// sends it to the dead-letter topic when it is not a valid ballot.
func (b *Bridge) handle(rec *kgo.Record) {
	b.stats.recordsIn.Add(1)

	b.mu.Lock()
	mark := b.marks[rec.Partition]
	var err error
	if mark == nil {
		err = errors.New("partition is not assigned to this member")
	} else {
		err = mark.Add(rec.Offset)
	}
	if err == nil {
		b.pending++
	}
	b.mu.Unlock()
	if err != nil {
		// Add fails only for an offset at or below one already registered, and
		// an unassigned partition has no watermark to commit, so skipping the
		// record never lets a commit pass it.
		b.cfg.Logger.Error("record skipped", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "error", err)
		return
	}
	src := Source{Partition: rec.Partition, Offset: rec.Offset, mark: mark}

	ballot, err := vote.ParseVote(rec.Value)
	if err != nil {
		b.deadLetter(rec, src, err.Error())
		return
	}
	castAt, _ := ballot.CastTime() // ParseVote checked it.
	// The packer copies the line, so one scratch buffer serves every record.
	b.envelope = vote.AppendEnvelope(b.envelope[:0], rec.Topic, rec.Partition, rec.Offset, rec.Timestamp, rec.Value)
	line := b.envelope
	if len(line)+1 > b.cfg.MaxRecordBytes {
		b.deadLetter(rec, src, fmt.Sprintf("envelope of %d bytes exceeds the Firehose record limit of %d bytes", len(line)+1, b.cfg.MaxRecordBytes))
		return
	}

	for _, closed := range b.packer.Add(b.keys.keyOf(ballot.ElectionID, castAt), line, src) {
		b.ready = append(b.ready, b.batcher.add(closed)...)
	}
}

// flush closes every open record and the current batch and queues them.
func (b *Bridge) flush() {
	for _, closed := range b.packer.Flush() {
		b.ready = append(b.ready, b.batcher.add(closed)...)
	}
	if batch := b.batcher.flush(); batch != nil {
		b.ready = append(b.ready, batch)
	}
	b.oldestSince = time.Time{}
}

// send delivers one batch. When the sender gives up, the records it did not
// deliver stay pending and consuming stops with the error.
func (b *Bridge) send(ctx context.Context, batch []Record) {
	if err := b.sender.Send(ctx, batch); err != nil {
		if ctx.Err() == nil {
			b.cfg.Logger.Error("batch not delivered; stopping", "records", len(batch), "sources", describeSources(batch), "error", err)
			b.fail(err)
			return
		}
		b.cfg.Logger.Warn("batch not delivered before the drain ended; it stays uncommitted",
			"records", len(batch), "sources", describeSources(batch), "error", err)
	}
}

// markDone records that the records at srcs were accepted or dead-lettered.
func (b *Bridge) markDone(srcs []Source) {
	b.mu.Lock()
	for _, src := range srcs {
		if src.mark != nil {
			src.mark.MarkDone(src.Offset)
		}
	}
	b.pending -= len(srcs)
	b.mu.Unlock()

	select {
	case b.progress <- struct{}{}:
	default:
	}
}

func (b *Bridge) pendingCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.pending
}

// onAssigned starts a fresh watermark for every assigned partition. The
// client fetches from the group's committed offset, so the watermark starts
// empty and takes its first offset from the first record read.
func (b *Bridge) onAssigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	partitions := assigned[b.cfg.Topic]
	if len(partitions) == 0 {
		return
	}
	b.mu.Lock()
	for _, p := range partitions {
		b.marks[p] = NewWatermark()
	}
	b.mu.Unlock()
	b.cfg.Logger.Info("partitions assigned", "topic", b.cfg.Topic, "partitions", partitions)
}

// onRevoked commits what is done in the revoked partitions and freezes their
// watermarks, so that acknowledgements of records still in flight cannot
// move a commit on a partition that another member now owns.
func (b *Bridge) onRevoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	partitions := revoked[b.cfg.Topic]
	if len(partitions) == 0 {
		return
	}
	b.commitMu.Lock()
	defer b.commitMu.Unlock()

	offsets := make(map[int32]int64)
	b.mu.Lock()
	for _, p := range partitions {
		mark := b.marks[p]
		if mark == nil {
			continue
		}
		if offset, ok := mark.Revoke(); ok {
			offsets[p] = offset
		}
		delete(b.marks, p)
		delete(b.highWater, p)
	}
	b.mu.Unlock()

	if err := b.commitLocked(ctx, offsets); err != nil {
		b.cfg.Logger.Error("commit on revocation failed; the next owner re-reads from the last commit", "partitions", partitions, "error", err)
	}
	for _, p := range partitions {
		delete(b.committed, p)
	}
	b.cfg.Logger.Info("partitions revoked", "topic", b.cfg.Topic, "partitions", partitions, "committed", offsets)
}

// onLost freezes the watermarks of partitions lost without a clean
// revocation. Nothing is committed, because the group generation is gone.
func (b *Bridge) onLost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	partitions := lost[b.cfg.Topic]
	b.commitMu.Lock()
	defer b.commitMu.Unlock()
	b.mu.Lock()
	for _, p := range partitions {
		if mark := b.marks[p]; mark != nil {
			mark.Revoke()
			delete(b.marks, p)
		}
		delete(b.highWater, p)
		delete(b.committed, p)
	}
	b.mu.Unlock()
	b.cfg.Logger.Warn("partitions lost; their work in flight will not be committed", "topic", b.cfg.Topic, "partitions", partitions)
}

func (b *Bridge) commitPeriodically(ctx context.Context) {
	ticker := time.NewTicker(b.cfg.CommitInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			if err := b.commitWatermarks(ctx); err != nil && ctx.Err() == nil {
				b.cfg.Logger.Error("commit failed; retrying at the next interval", "error", err)
			}
		}
	}
}

// commitWatermarks commits the watermark of every owned partition that moved
// since its last commit.
func (b *Bridge) commitWatermarks(ctx context.Context) error {
	b.commitMu.Lock()
	defer b.commitMu.Unlock()

	offsets := make(map[int32]int64)
	b.mu.Lock()
	for p, mark := range b.marks {
		if offset, ok := mark.Commit(); ok {
			offsets[p] = offset
		}
	}
	b.mu.Unlock()
	return b.commitLocked(ctx, offsets)
}

// commitLocked commits the offsets that are past the last commit of their
// partition. The caller holds commitMu.
func (b *Bridge) commitLocked(ctx context.Context, offsets map[int32]int64) error {
	toCommit := make(map[int32]kgo.EpochOffset)
	for p, offset := range offsets {
		if last, ok := b.committed[p]; ok && offset <= last {
			continue
		}
		toCommit[p] = kgo.EpochOffset{Epoch: -1, Offset: offset}
	}
	if len(toCommit) == 0 {
		return nil
	}

	var commitErr error
	b.client.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{b.cfg.Topic: toCommit},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			if err != nil {
				commitErr = err
				return
			}
			for _, topic := range resp.Topics {
				for _, partition := range topic.Partitions {
					if err := kerr.ErrorForCode(partition.ErrorCode); err != nil {
						commitErr = errors.Join(commitErr, fmt.Errorf("partition %d: %w", partition.Partition, err))
						continue
					}
					b.committed[partition.Partition] = toCommit[partition.Partition].Offset
				}
			}
		})
	if commitErr != nil {
		return fmt.Errorf("commit offsets of %q in group %q: %w", b.cfg.Topic, b.cfg.Group, commitErr)
	}
	b.cfg.Logger.Debug("offsets committed", "topic", b.cfg.Topic, "offsets", toCommit)
	return nil
}

// waitOrDone waits for wg, or only until ctx ends.
func waitOrDone(wg *sync.WaitGroup, ctx context.Context) {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}
