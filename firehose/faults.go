package firehose

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Per-entry error codes that PutRecordBatch returns in RequestResponses.
const (
	ErrorCodeServiceUnavailable = "ServiceUnavailableException"
	ErrorCodeInternalFailure    = "InternalFailure"
)

// Faults configures fault injection in PutRecordBatch, to test clients
// against the failures that Amazon Data Firehose can return. The zero value
// injects nothing. Other operations are not affected.
//
// The faults are drawn from one random sequence seeded with Seed, so a
// single caller that sends the same calls gets the same faults in every run.
// Concurrent callers share the sequence in the order their calls arrive.
type Faults struct {
	// Seed seeds the random sequence.
	Seed uint64

	// ThrottleRate is the fraction of calls, from 0 to 1, rejected as a whole
	// with HTTP 503 and ServiceUnavailableException before any record is
	// accepted, as Firehose does when a stream is over its throughput quota.
	ThrottleRate float64

	// FailureRate is the fraction of entries, from 0 to 1, failed in each
	// call that is not throttled. The call returns HTTP 200 with
	// FailedPutCount > 0, and each failed entry carries ErrorCode
	// ServiceUnavailableException or InternalFailure, chosen at random with
	// equal odds. Failed entries are not accepted, so only a resend delivers
	// them.
	FailureRate float64

	// Latency is added to every PutRecordBatch call before it is handled.
	Latency time.Duration

	// DropResponseRate is the fraction of calls, from 0 to 1, whose records
	// are accepted and spooled, after which the connection is closed without
	// a response. The client sees a transport error and, if it resends, the
	// records are delivered twice: the at-least-once case.
	DropResponseRate float64
}

// Enabled reports whether f injects any fault.
func (f Faults) Enabled() bool {
	return f.ThrottleRate > 0 || f.FailureRate > 0 || f.Latency > 0 || f.DropResponseRate > 0
}

// validate returns an error naming the first rate outside 0 to 1 or a
// negative latency.
func (f Faults) validate() error {
	rates := []struct {
		name  string
		value float64
	}{
		{"ThrottleRate", f.ThrottleRate},
		{"FailureRate", f.FailureRate},
		{"DropResponseRate", f.DropResponseRate},
	}
	for _, r := range rates {
		if !(r.value >= 0 && r.value <= 1) {
			return fmt.Errorf("Faults.%s %v is outside 0 to 1", r.name, r.value)
		}
	}
	if f.Latency < 0 {
		return fmt.Errorf("Faults.Latency %s is negative", f.Latency)
	}
	return nil
}

// FaultStats counts the faults a Server injected since it started.
type FaultStats struct {
	// ThrottledCalls counts calls rejected whole with ServiceUnavailableException.
	ThrottledCalls int64
	// FailedEntries counts entries failed by position, by error code.
	FailedEntries map[string]int64
	// DroppedResponses counts calls whose records were accepted and whose
	// connection was then closed without a response.
	DroppedResponses int64
}

// faultInjector draws the faults of each PutRecordBatch call.
type faultInjector struct {
	cfg Faults

	// mu guards rng, which is not safe for concurrent use.
	mu  sync.Mutex
	rng *rand.Rand

	throttled        atomic.Int64
	serviceFailures  atomic.Int64
	internalFailures atomic.Int64
	droppedResponses atomic.Int64
}

func newFaultInjector(cfg Faults) *faultInjector {
	// The second PCG word is a fixed constant, so Seed alone sets the sequence.
	return &faultInjector{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x766f746573747265))}
}

// callFaults are the faults drawn for one call.
type callFaults struct {
	throttle bool
	// entryErrors has one error code per entry, empty for an entry that is
	// accepted; nil when no entry fails.
	entryErrors  []string
	dropResponse bool
}

// draw waits the configured latency and draws the faults of a call with n
// entries. It returns ctx's error when the caller went away during the wait.
func (fi *faultInjector) draw(ctx context.Context, n int) (callFaults, error) {
	var call callFaults
	if fi == nil {
		return call, nil
	}
	if fi.cfg.Latency > 0 {
		timer := time.NewTimer(fi.cfg.Latency)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return call, ctx.Err()
		}
	}

	fi.mu.Lock()
	defer fi.mu.Unlock()
	if fi.rng.Float64() < fi.cfg.ThrottleRate {
		call.throttle = true
		fi.throttled.Add(1)
		return call, nil
	}
	if fi.cfg.FailureRate > 0 {
		for i := range n {
			if fi.rng.Float64() >= fi.cfg.FailureRate {
				continue
			}
			if call.entryErrors == nil {
				call.entryErrors = make([]string, n)
			}
			if fi.rng.IntN(2) == 0 {
				call.entryErrors[i] = ErrorCodeServiceUnavailable
				fi.serviceFailures.Add(1)
			} else {
				call.entryErrors[i] = ErrorCodeInternalFailure
				fi.internalFailures.Add(1)
			}
		}
	}
	if fi.rng.Float64() < fi.cfg.DropResponseRate {
		call.dropResponse = true
		fi.droppedResponses.Add(1)
	}
	return call, nil
}

func (fi *faultInjector) stats() FaultStats {
	if fi == nil {
		return FaultStats{FailedEntries: map[string]int64{}}
	}
	return FaultStats{
		ThrottledCalls: fi.throttled.Load(),
		FailedEntries: map[string]int64{
			ErrorCodeServiceUnavailable: fi.serviceFailures.Load(),
			ErrorCodeInternalFailure:    fi.internalFailures.Load(),
		},
		DroppedResponses: fi.droppedResponses.Load(),
	}
}

// FaultStats returns the faults injected so far. Without Options.Faults
// every count is zero.
func (s *Server) FaultStats() FaultStats {
	return s.faults.stats()
}

// errThrottled is the whole-call error of a throttled call.
var errThrottled = &apiError{http.StatusServiceUnavailable, errServiceUnavailable,
	"Slow down: injected throttling (Options.Faults.ThrottleRate)"}

// abortResponse closes the connection of the current request without writing
// a response. net/http recovers this panic, closes the connection and logs
// nothing.
func abortResponse() {
	panic(http.ErrAbortHandler)
}

// putWithFaults accepts the records at the positions that call does not
// fail and returns one response entry per record: a RecordId for an accepted
// record, an error code and message for a failed one.
func (s *Server) putWithFaults(st *streamState, records [][]byte, call callFaults) ([]putRecordBatchEntry, int, error) {
	entries := make([]putRecordBatchEntry, len(records))
	accepted := make([][]byte, 0, len(records))
	positions := make([]int, 0, len(records))
	failed := 0
	for i, data := range records {
		if call.entryErrors != nil && call.entryErrors[i] != "" {
			entries[i].ErrorCode = call.entryErrors[i]
			entries[i].ErrorMessage = "injected failure (Options.Faults.FailureRate)"
			failed++
			continue
		}
		accepted = append(accepted, data)
		positions = append(positions, i)
	}
	if len(accepted) == 0 {
		return entries, failed, nil
	}

	ids, err := s.put(st, accepted)
	if err != nil {
		return nil, 0, err
	}
	for j, id := range ids {
		entries[positions[j]].RecordId = id
	}
	return entries, failed, nil
}
