package bridge

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// capturedLog keeps the message and the "not_logged" attribute of every
// record logged through it.
type capturedLog struct {
	mu      sync.Mutex
	entries []capturedEntry
}

type capturedEntry struct {
	msg       string
	level     slog.Level
	notLogged int64
}

func (c *capturedLog) Enabled(context.Context, slog.Level) bool { return true }
func (c *capturedLog) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *capturedLog) WithGroup(string) slog.Handler            { return c }

func (c *capturedLog) Handle(_ context.Context, r slog.Record) error {
	entry := capturedEntry{msg: r.Message, level: r.Level, notLogged: -1}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "not_logged" {
			entry.notLogged = a.Value.Int64()
		}
		return true
	})
	c.mu.Lock()
	c.entries = append(c.entries, entry)
	c.mu.Unlock()
	return nil
}

func (c *capturedLog) all() []capturedEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]capturedEntry(nil), c.entries...)
}

func TestRepeatedWarningsRateLimit(t *testing.T) {
	captured := &capturedLog{}
	logger := slog.New(captured)
	warnings := newRepeatedWarnings(10 * time.Second)
	clock := time.Date(2024, 11, 5, 20, 0, 0, 0, time.UTC)
	warnings.now = func() time.Time { return clock }

	// Five of kind A and two of kind B within one interval: the first of
	// each is logged.
	for range 5 {
		warnings.warn(logger, "A")
	}
	warnings.warn(logger, "B")
	warnings.warn(logger, "B")

	// After the interval, the next A carries the count of the four skipped.
	clock = clock.Add(10 * time.Second)
	warnings.warn(logger, "A")
	warnings.warn(logger, "A")

	// Flush logs the newest held-back warning of each kind: one A, skipped
	// nothing else; one B, skipped nothing else.
	warnings.flush(logger)
	warnings.flush(logger)

	want := []capturedEntry{
		{msg: "A", level: slog.LevelWarn, notLogged: 0},
		{msg: "B", level: slog.LevelWarn, notLogged: 0},
		{msg: "A", level: slog.LevelWarn, notLogged: 4},
	}
	got := captured.all()
	if len(got) < len(want) {
		t.Fatalf("logged %d warnings before the flush, want at least %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i] != w {
			t.Errorf("warning %d = %+v, want %+v", i, got[i], w)
		}
	}

	flushed := map[string]int64{}
	for _, entry := range got[len(want):] {
		flushed[entry.msg] = entry.notLogged
	}
	if len(got)-len(want) != 2 {
		t.Errorf("flush logged %d warnings, want 2 (one A, one B): %+v", len(got)-len(want), got[len(want):])
	}
	if n, ok := flushed["A"]; !ok || n != 0 {
		t.Errorf("flushed A: logged %v with not_logged=%d, want logged with 0", ok, n)
	}
	if n, ok := flushed["B"]; !ok || n != 0 {
		t.Errorf("flushed B: logged %v with not_logged=%d, want logged with 0", ok, n)
	}
}

func TestSenderRateLimitsRetryWarnings(t *testing.T) {
	const failures = 50
	fake := &fakeFirehose{respond: func(n int, _ [][]byte) (map[int]string, error) {
		if n < failures {
			return nil, errors.New("injected call failure")
		}
		return nil, nil
	}}
	captured := &capturedLog{}
	sender := newTestSender(fake, &[]time.Duration{})
	sender.Logger = slog.New(captured)
	sender.RetryLogInterval = time.Hour

	if err := sender.Send(context.Background(), namedRecords("a", "b")); err != nil {
		t.Fatalf("Send: %v", err)
	}
	during := captured.all()
	sender.FlushRetryWarnings()
	after := captured.all()

	if len(during) != 1 {
		t.Fatalf("Send logged %d warnings for %d failed calls, want 1: %+v", len(during), failures, during)
	}
	if during[0].notLogged != 0 {
		t.Errorf("first warning not_logged = %d, want 0", during[0].notLogged)
	}
	if len(after) != 2 {
		t.Fatalf("FlushRetryWarnings logged %d warnings, want 1", len(after)-len(during))
	}
	if got, want := after[1].notLogged, int64(failures-2); got != want {
		t.Errorf("flushed warning not_logged = %d, want %d (all failures but the two logged)", got, want)
	}
}
