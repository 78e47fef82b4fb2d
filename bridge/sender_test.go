package bridge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
)

func namedRecords(names ...string) []Record {
	records := make([]Record, len(names))
	for i, name := range names {
		records[i] = Record{Data: []byte(name), Sources: []Source{{Partition: 0, Offset: int64(i)}}}
	}
	return records
}

func names(records [][]byte) []string {
	out := make([]string, len(records))
	for i, rec := range records {
		out[i] = string(rec)
	}
	return out
}

// newTestSender returns a sender that records its backoffs instead of sleeping.
func newTestSender(fake *fakeFirehose, backoffs *[]time.Duration) *Sender {
	return &Sender{
		Firehose:    fake,
		StreamName:  "votes",
		BackoffBase: 10 * time.Millisecond,
		BackoffMax:  25 * time.Millisecond,
		stats:       &counters{},
		sleep: func(ctx context.Context, d time.Duration) error {
			*backoffs = append(*backoffs, d)
			return ctx.Err()
		},
	}
}

func TestSenderRetriesOnlyFailedEntries(t *testing.T) {
	fake := &fakeFirehose{respond: func(n int, records [][]byte) (map[int]string, error) {
		switch n {
		case 0:
			return map[int]string{1: "InternalFailure", 3: "InternalFailure", 4: errorCodeThrottled}, nil
		case 1:
			return nil, &types.ServiceUnavailableException{Message: aws.String("slow down")}
		case 2:
			return map[int]string{0: errorCodeThrottled}, nil
		}
		return nil, nil
	}}
	var backoffs []time.Duration
	s := newTestSender(fake, &backoffs)
	var acceptedOrder []string
	s.OnAccepted = func(rec Record) { acceptedOrder = append(acceptedOrder, string(rec.Data)) }

	if err := s.Send(context.Background(), namedRecords("r0", "r1", "r2", "r3", "r4", "r5")); err != nil {
		t.Fatalf("Send: %v", err)
	}

	wantCalls := [][]string{
		{"r0", "r1", "r2", "r3", "r4", "r5"},
		{"r1", "r3", "r4"}, // only the failed entries, in their original order
		{"r1", "r3", "r4"}, // the whole call failed, so all of it again
		{"r1"},
	}
	if len(fake.calls) != len(wantCalls) {
		t.Fatalf("made %d calls, want %d", len(fake.calls), len(wantCalls))
	}
	for i, want := range wantCalls {
		if got := names(fake.calls[i]); !slices.Equal(got, want) {
			t.Errorf("call %d sent %v, want %v", i, got, want)
		}
	}
	if want := []string{"r0", "r2", "r5", "r3", "r4", "r1"}; !slices.Equal(acceptedOrder, want) {
		t.Errorf("OnAccepted order = %v, want %v", acceptedOrder, want)
	}

	if len(backoffs) != 3 {
		t.Fatalf("waited %d times, want 3", len(backoffs))
	}
	for attempt, d := range backoffs {
		limit := min(s.BackoffMax, s.BackoffBase<<attempt)
		if d < 0 || d > limit {
			t.Errorf("backoff %d = %s, want within [0, %s]", attempt, d, limit)
		}
	}

	stats := s.stats.snapshot()
	if stats.Calls != 4 {
		t.Errorf("Calls = %d, want 4", stats.Calls)
	}
	if stats.FailedCalls != 1 {
		t.Errorf("FailedCalls = %d, want 1", stats.FailedCalls)
	}
	if stats.FailedEntriesRetried != 4 {
		t.Errorf("FailedEntriesRetried = %d, want 4", stats.FailedEntriesRetried)
	}
	if stats.FirehoseRecords != 6 {
		t.Errorf("FirehoseRecords = %d, want 6", stats.FirehoseRecords)
	}
}

func TestSenderEventuallyAcceptsAll(t *testing.T) {
	// Every call rejects the entries at even positions until the tenth call.
	fake := &fakeFirehose{respond: func(n int, records [][]byte) (map[int]string, error) {
		if n >= 10 {
			return nil, nil
		}
		failed := make(map[int]string)
		for i := 0; i < len(records); i += 2 {
			failed[i] = errorCodeThrottled
		}
		return failed, nil
	}}
	var backoffs []time.Duration
	s := newTestSender(fake, &backoffs)

	var input []string
	for i := range 500 {
		input = append(input, fmt.Sprintf("r%03d", i))
	}
	if err := s.Send(context.Background(), namedRecords(input...)); err != nil {
		t.Fatalf("Send: %v", err)
	}

	got := names(fake.acceptedRecords())
	slices.Sort(got)
	if !slices.Equal(got, input) {
		t.Errorf("accepted %d records, want each of the %d exactly once", len(got), len(input))
	}
	for i := 1; i < len(fake.calls); i++ {
		if len(fake.calls[i]) > (len(fake.calls[i-1])+1)/2 {
			t.Errorf("call %d resent %d records after call %d failed only %d", i, len(fake.calls[i]), i-1, (len(fake.calls[i-1])+1)/2)
		}
	}
}

func TestSenderGivesUp(t *testing.T) {
	alwaysFails := &fakeFirehose{respond: func(int, [][]byte) (map[int]string, error) {
		return nil, errors.New("connection reset")
	}}

	t.Run("after MaxRetries", func(t *testing.T) {
		var backoffs []time.Duration
		s := newTestSender(alwaysFails, &backoffs)
		s.MaxRetries = 3
		err := s.Send(context.Background(), namedRecords("r0"))
		if err == nil {
			t.Fatal("Send returned nil, want an error")
		}
		if got := len(backoffs); got != 3 {
			t.Errorf("retried %d times, want 3", got)
		}
	})

	t.Run("when ctx ends", func(t *testing.T) {
		var backoffs []time.Duration
		s := newTestSender(alwaysFails, &backoffs)
		ctx, cancel := context.WithCancel(context.Background())
		s.sleep = func(ctx context.Context, d time.Duration) error {
			backoffs = append(backoffs, d)
			if len(backoffs) == 5 {
				cancel()
			}
			return ctx.Err()
		}
		err := s.Send(ctx, namedRecords("r0"))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Send error = %v, want context.Canceled", err)
		}
	})
}

func TestSenderRetriesWrongResponseCount(t *testing.T) {
	fake := &fakeFirehose{}
	short := &shortFirehose{fake: fake}
	var backoffs []time.Duration
	s := newTestSender(fake, &backoffs)
	s.Firehose = short
	if err := s.Send(context.Background(), namedRecords("r0", "r1")); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if short.calls != 2 {
		t.Errorf("made %d calls, want 2: a response with too few entries must be retried whole", short.calls)
	}
}

func TestFullJitterBounds(t *testing.T) {
	for attempt := range 80 {
		for range 20 {
			d := fullJitter(100*time.Millisecond, 20*time.Second, attempt)
			limit := 20 * time.Second
			if attempt < 8 {
				limit = 100 * time.Millisecond << attempt
			}
			if d < 0 || d > limit {
				t.Fatalf("fullJitter attempt %d = %s, want within [0, %s]", attempt, d, limit)
			}
		}
	}
}
