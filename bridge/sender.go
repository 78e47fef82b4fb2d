package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
)

// Firehose is the part of the Amazon Data Firehose API that the bridge
// calls. *firehose.Client satisfies it.
type Firehose interface {
	PutRecordBatch(ctx context.Context, in *firehose.PutRecordBatchInput, optFns ...func(*firehose.Options)) (*firehose.PutRecordBatchOutput, error)
}

// errorCodeThrottled is the error code Firehose returns, for a whole call or
// for one entry, when the stream is over its throughput quota.
const errorCodeThrottled = "ServiceUnavailableException"

// Sender delivers one batch of records with PutRecordBatch and retries until
// Firehose has accepted every record. A call that fails as a whole is sent
// again whole; a call that succeeds with FailedPutCount > 0 is followed by a
// call with only the failed entries, found by their position in
// RequestResponses. Every retry waits an exponential backoff with full
// jitter. Resending can duplicate records; the lake removes duplicates by
// vote_id.
type Sender struct {
	Firehose   Firehose
	StreamName string

	// BackoffBase is the first backoff, doubled after every failed attempt up
	// to BackoffMax. The wait is drawn uniformly from zero to that value.
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// MaxRetries is the number of retries of one batch after which Send
	// returns an error; 0 retries until ctx ends.
	MaxRetries int
	// CallTimeout bounds one PutRecordBatch call; 0 leaves it to ctx. A call
	// that times out is retried whole.
	CallTimeout time.Duration

	Logger *slog.Logger
	// RetryLogInterval is the shortest time between two logged warnings of
	// one kind of retry; default DefaultRetryLogInterval. The first is logged
	// at once, and the next one logged carries in "not_logged" the count of
	// those skipped in between. FlushRetryWarnings logs the rest.
	RetryLogInterval time.Duration

	// OnAccepted, when set, is called once for every record that Firehose
	// accepted, on the goroutine that called Send, as soon as its call returns.
	OnAccepted func(Record)

	// stats is nil when the Sender is used without a Bridge.
	stats *counters
	// limit is the adaptive limit on calls in flight that the Senders of one
	// Bridge share; nil leaves concurrency to the caller.
	limit *callLimit
	// sleep waits d or until ctx ends; tests replace it to record backoffs.
	sleep func(ctx context.Context, d time.Duration) error

	// warningsOnce creates warnings on first use, because a Sender is built
	// as a struct literal.
	warningsOnce sync.Once
	warnings     *repeatedWarnings
}

// Send delivers records and returns nil when Firehose has accepted all of
// them. It returns an error only when ctx ends or after MaxRetries retries;
// the records not accepted by then are the caller's to keep uncommitted.
func (s *Sender) Send(ctx context.Context, records []Record) error {
	logger := s.logger()
	pending := records
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			s.counters().retries.Add(1)
		}
		if err := s.acquire(ctx); err != nil {
			return fmt.Errorf("send %d records to Firehose stream %q: %w", len(pending), s.StreamName, err)
		}
		failed, throttled, callErr := s.call(ctx, pending)
		wasThrottled := throttled > 0 || (callErr != nil && isThrottled(callErr))
		s.feedback(wasThrottled)
		if callErr == nil && len(failed) == 0 {
			s.release()
			return nil
		}
		if ctx.Err() != nil {
			s.release()
			return fmt.Errorf("send %d records to Firehose stream %q: %w", len(pending), s.StreamName, ctx.Err())
		}
		if s.MaxRetries > 0 && attempt >= s.MaxRetries {
			s.release()
			if callErr == nil {
				callErr = fmt.Errorf("%d entries still failed", len(failed))
			}
			return fmt.Errorf("send %d records to Firehose stream %q: gave up after %d retries: %w", len(pending), s.StreamName, attempt, callErr)
		}

		wait := s.backoff(attempt)
		if callErr != nil {
			s.counters().failedCalls.Add(1)
			if wasThrottled {
				s.counters().throttledCalls.Add(1)
			}
			s.retryWarnings().warn(logger, "PutRecordBatch failed; retrying the whole call",
				"stream", s.StreamName, "records", len(pending), "sources", describeSources(pending),
				"attempt", attempt+1, "throttled", wasThrottled, "backoff", wait, "error", callErr)
		} else {
			s.counters().failedEntriesRetried.Add(int64(len(failed)))
			s.counters().throttledEntries.Add(int64(throttled))
			s.retryWarnings().warn(logger, "PutRecordBatch rejected some entries; retrying them",
				"stream", s.StreamName, "failed", len(failed), "of", len(pending), "throttled", throttled, "sources", describeSources(failed),
				"attempt", attempt+1, "backoff", wait)
			pending = failed
		}

		// A throttled sender keeps its call slot through the backoff, so that
		// the other senders slow down too; any other failure frees it first.
		if !wasThrottled {
			s.release()
		}
		err := s.wait(ctx, wait)
		if wasThrottled {
			s.release()
		}
		if err != nil {
			return fmt.Errorf("send %d records to Firehose stream %q: %w", len(pending), s.StreamName, err)
		}
	}
}

// FlushRetryWarnings logs the newest retry warning of each kind that the
// rate limit of RetryLogInterval held back, with the count of those not
// logged. Call it when sending stops.
func (s *Sender) FlushRetryWarnings() {
	s.retryWarnings().flush(s.logger())
}

func (s *Sender) retryWarnings() *repeatedWarnings {
	s.warningsOnce.Do(func() {
		interval := s.RetryLogInterval
		if interval <= 0 {
			interval = DefaultRetryLogInterval
		}
		s.warnings = newRepeatedWarnings(interval)
	})
	return s.warnings
}

func (s *Sender) acquire(ctx context.Context) error {
	if s.limit == nil {
		return nil
	}
	return s.limit.acquire(ctx)
}

func (s *Sender) feedback(throttled bool) {
	if s.limit != nil {
		s.limit.feedback(throttled)
	}
}

func (s *Sender) release() {
	if s.limit != nil {
		s.limit.release()
	}
}

// call makes one PutRecordBatch call and returns the records it did not
// accept and how many of those Firehose throttled, or an error when the call
// as a whole failed.
func (s *Sender) call(ctx context.Context, records []Record) (failed []Record, throttled int, err error) {
	in := &firehose.PutRecordBatchInput{
		DeliveryStreamName: aws.String(s.StreamName),
		Records:            make([]types.Record, len(records)),
	}
	size := 0
	for i, rec := range records {
		in.Records[i] = types.Record{Data: rec.Data}
		size += len(rec.Data)
	}

	callCtx := ctx
	if s.CallTimeout > 0 {
		var cancel context.CancelFunc
		callCtx, cancel = context.WithTimeout(ctx, s.CallTimeout)
		defer cancel()
	}
	s.counters().calls.Add(1)
	s.counters().observeCall(len(records), size)
	out, err := s.Firehose.PutRecordBatch(callCtx, in)
	if err != nil {
		return nil, 0, err
	}
	if len(out.RequestResponses) != len(records) {
		return nil, 0, fmt.Errorf("PutRecordBatch returned %d responses for %d records", len(out.RequestResponses), len(records))
	}

	for i, entry := range out.RequestResponses {
		if entry.ErrorCode != nil {
			failed = append(failed, records[i])
			s.counters().addFailedEntry(*entry.ErrorCode)
			if *entry.ErrorCode == errorCodeThrottled {
				throttled++
			}
			continue
		}
		s.accept(records[i])
	}
	return failed, throttled, nil
}

func (s *Sender) accept(rec Record) {
	s.counters().votesSent.Add(int64(len(rec.Sources)))
	s.counters().firehoseRecords.Add(1)
	s.counters().billedBytes.Add(billedBytes(len(rec.Data)))
	s.counters().unpackedBilledBytes.Add(rec.unpackedBilled)
	if s.OnAccepted != nil {
		s.OnAccepted(rec)
	}
}

// backoff returns the wait before retry attempt+1: uniform in
// [0, min(BackoffMax, BackoffBase * 2^attempt)], the "full jitter" scheme.
func (s *Sender) backoff(attempt int) time.Duration {
	return fullJitter(s.BackoffBase, s.BackoffMax, attempt)
}

func fullJitter(base, ceiling time.Duration, attempt int) time.Duration {
	limit := ceiling
	if attempt < 62 && base < ceiling>>attempt {
		limit = base << attempt
	}
	if limit <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(limit) + 1))
}

func (s *Sender) wait(ctx context.Context, d time.Duration) error {
	if s.sleep != nil {
		return s.sleep(ctx, d)
	}
	return sleepContext(ctx, d)
}

// untracked collects the counts of Senders that are not part of a Bridge.
var untracked counters

func (s *Sender) counters() *counters {
	if s.stats == nil {
		return &untracked
	}
	return s.stats
}

func (s *Sender) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// sleepContext waits d or until ctx ends, whichever is first.
func sleepContext(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// isThrottled reports whether err is Firehose's throughput-quota error.
func isThrottled(err error) bool {
	var unavailable *types.ServiceUnavailableException
	return errors.As(err, &unavailable)
}

// describeSources summarizes the Kafka coordinates of records for logs, as
// "partition:first-last" ranges sorted by partition, such as "0:10-95 3:7-7".
func describeSources(records []Record) string {
	type span struct{ first, last int64 }
	spans := make(map[int32]span)
	for _, rec := range records {
		for _, src := range rec.Sources {
			sp, ok := spans[src.Partition]
			if !ok {
				sp = span{src.Offset, src.Offset}
			}
			sp.first = min(sp.first, src.Offset)
			sp.last = max(sp.last, src.Offset)
			spans[src.Partition] = sp
		}
	}
	partitions := make([]int32, 0, len(spans))
	for p := range spans {
		partitions = append(partitions, p)
	}
	slices.Sort(partitions)

	var b strings.Builder
	for i, p := range partitions {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%d:%d-%d", p, spans[p].first, spans[p].last)
	}
	return b.String()
}
