// Package simulate replays an election's official results as ballots on
// the Kafka votes topic: one ballot per counted vote, in a shuffled order,
// with cast times that follow a turnout curve over polling hours.
//
// A replay is deterministic for a given election, day and seed, so a replay
// that was stopped can resume from a position: the ballots before it are
// the same as in the first run. Ballots produced twice carry the same
// vote_id and are removed downstream.
package simulate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/votestream/votestream/internal/election"
	"github.com/votestream/votestream/internal/vote"
)

// Defaults of Config.
const (
	DefaultMaxInFlight      = 200_000
	DefaultProgressInterval = 250 * time.Millisecond
)

// Config configures a replay.
type Config struct {
	// Election is the election to replay. Required.
	Election *election.Election
	// Day sets the cast times of the ballots.
	Day election.Day
	// Seed selects the replay order; the same seed gives the same ballots
	// at the same positions.
	Seed uint64
	// Client produces the ballots. Required. ProducerOpts lists options
	// that make it fast.
	Client *kgo.Client
	// Topic receives the ballots; default vote.VotesTopic.
	Topic string
	// Start is the replay position to begin at, from 0; use the position of
	// a checkpoint to resume.
	Start int64

	// MaxInFlight bounds the ballots produced but not yet acknowledged;
	// default DefaultMaxInFlight.
	MaxInFlight int
	// Progress, when set, is called with the ballots acknowledged so far in
	// this run and the ballots this run produces in all, at most once per
	// ProgressInterval and once at the end.
	Progress func(sent, total int64)
	// CheckpointPath, when set, is the file where Run saves, with
	// SaveCheckpoint, the position up to which every ballot is acknowledged:
	// at most once per ProgressInterval and once at the end. A replay that
	// resumes from that position with the same seed loses nothing.
	CheckpointPath string
	// ProgressInterval bounds how often Progress runs and the checkpoint is
	// saved; default DefaultProgressInterval.
	ProgressInterval time.Duration

	// Faults adds faulty records next to ballots; the zero value adds none.
	// A position counts as acknowledged only when its ballot and all its
	// fault records are, so a resumed replay produces them again.
	Faults Faults
}

// Result describes a finished replay.
type Result struct {
	// Sent counts the ballots acknowledged in this run.
	Sent int64
	// Position is where a later replay should resume: every ballot before
	// it was acknowledged, in this run or before Start.
	Position int64
	Elapsed  time.Duration
	// Faults counts the fault records acknowledged in this run.
	Faults FaultCounts
}

// ProducerOpts returns client options for a replay: a short linger so that
// batches fill up, and room for the in-flight window.
func ProducerOpts() []kgo.Opt {
	return []kgo.Opt{
		kgo.ProducerLinger(5 * time.Millisecond),
		kgo.ProducerBatchMaxBytes(1 << 20),
		kgo.MaxBufferedRecords(2 * DefaultMaxInFlight),
		kgo.ProducerBatchCompression(kgo.Lz4Compression()),
	}
}

// Run produces the ballots from position cfg.Start to the end of the
// replay, keyed by voter id so that all ballots of a voter share a
// partition. The record timestamp is the time of producing. Run returns the
// first produce error, after waiting for the ballots already in flight.
func Run(ctx context.Context, cfg Config) (Result, error) {
	started := time.Now()
	if cfg.Election == nil || cfg.Client == nil {
		return Result{}, errors.New("simulate: Election and Client are required")
	}
	if cfg.Topic == "" {
		cfg.Topic = vote.VotesTopic
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.ProgressInterval <= 0 {
		cfg.ProgressInterval = DefaultProgressInterval
	}
	if err := cfg.Faults.Validate(); err != nil {
		return Result{Position: cfg.Start}, err
	}

	expansion := cfg.Election.Expand()
	total := expansion.Total()
	if cfg.Start < 0 || cfg.Start > total {
		return Result{Position: cfg.Start}, fmt.Errorf("start position %d is outside the replay of %d ballots", cfg.Start, total)
	}
	order := election.Order(total, cfg.Seed)
	planner := &faultPlanner{faults: cfg.Faults, seed: cfg.Seed, expansion: expansion, candidates: cfg.Election.Candidates}
	var faultsMu sync.Mutex
	var faults FaultCounts

	w := newWindow(cfg.Start, cfg.MaxInFlight)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stopWaking := context.AfterFunc(ctx, w.wake)
	defer stopWaking()

	// report calls Progress and saves the checkpoint. A checkpoint that
	// cannot be saved stops the replay, because resuming would then repeat
	// work without bound or, with a stale file from another replay, skip it.
	report := func() {
		if cfg.Progress != nil {
			cfg.Progress(w.acknowledged(), total-cfg.Start)
		}
		if cfg.CheckpointPath != "" {
			if err := SaveCheckpoint(cfg.CheckpointPath, w.contiguous()); err != nil {
				cancel(err)
			}
		}
	}
	lastReport := time.Now()

	var produceErr error
	for p := cfg.Start; p < total; p++ {
		if err := w.acquire(ctx, p); err != nil {
			produceErr = context.Cause(ctx)
			break
		}

		index := int64(order[p])
		at := cfg.Day.CastAt(p, total)
		ballot := expansion.Ballot(index, 0, at)
		value, err := json.Marshal(ballot)
		if err != nil {
			produceErr = fmt.Errorf("encode ballot at position %d: %w", p, err)
			break
		}
		planned, err := planner.plan(p, index, at, ballot, value)
		if err != nil {
			produceErr = fmt.Errorf("plan faults at position %d: %w", p, err)
			break
		}

		// The position is released once, when the last of its records is
		// acknowledged or the first one fails.
		position := p
		remaining := new(atomic.Int32)
		remaining.Store(int32(len(planned)))
		failed := new(atomic.Bool)
		for _, pr := range planned {
			kind := pr.kind
			rec := &kgo.Record{Topic: cfg.Topic, Key: pr.key, Value: pr.value}
			cfg.Client.Produce(ctx, rec, func(_ *kgo.Record, err error) {
				if err != nil {
					cancel(fmt.Errorf("produce ballot at position %d to %q: %w", position, cfg.Topic, err))
					failed.Store(true)
				} else if kind != noFault {
					faultsMu.Lock()
					faults.add(kind)
					faultsMu.Unlock()
				}
				if remaining.Add(-1) == 0 {
					w.release(position, !failed.Load())
				}
			})
		}

		if p%4096 == 0 && time.Since(lastReport) >= cfg.ProgressInterval {
			report()
			lastReport = time.Now()
		}
	}

	// Wait for the ballots in flight, even after an error, so that the
	// checkpoint covers every acknowledged ballot.
	flushErr := cfg.Client.Flush(context.WithoutCancel(ctx))
	report()

	result := Result{Position: w.contiguous(), Elapsed: time.Since(started)}
	result.Sent = w.acknowledged()
	faultsMu.Lock()
	result.Faults = faults
	faultsMu.Unlock()
	if produceErr == nil {
		produceErr = context.Cause(ctx)
	}
	if produceErr == nil && flushErr != nil {
		produceErr = fmt.Errorf("flush produced ballots: %w", flushErr)
	}
	return result, produceErr
}

// window tracks which positions were acknowledged and bounds how far
// producing may run ahead of the first position not yet acknowledged.
// Promises of different partitions finish in any order, so acknowledged
// positions are kept in a ring as large as the window.
type window struct {
	mu   sync.Mutex
	cond *sync.Cond

	// next is the first position not acknowledged; every position before it
	// was acknowledged.
	next int64
	// acked[p % len(acked)] is set for acknowledged positions at or after next.
	acked []bool
	// failed is set once any produce failed; next then stops advancing.
	failed bool
	count  int64
}

func newWindow(start int64, size int) *window {
	w := &window{next: start, acked: make([]bool, size)}
	w.cond = sync.NewCond(&w.mu)
	return w
}

// acquire blocks until position p fits in the window or ctx ends.
func (w *window) acquire(ctx context.Context, p int64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for p-w.next >= int64(len(w.acked)) {
		if err := ctx.Err(); err != nil {
			return err
		}
		w.cond.Wait()
	}
	return ctx.Err()
}

// release records the outcome of position p. A failed position is never
// passed, so the contiguous position stops before it.
func (w *window) release(p int64, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !ok {
		w.failed = true
		w.cond.Broadcast()
		return
	}
	w.count++
	w.acked[p%int64(len(w.acked))] = true
	advanced := false
	for w.acked[w.next%int64(len(w.acked))] {
		w.acked[w.next%int64(len(w.acked))] = false
		w.next++
		advanced = true
	}
	if advanced || w.failed {
		w.cond.Broadcast()
	}
}

// wake lets a blocked acquire see that its context ended.
func (w *window) wake() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.cond.Broadcast()
}

func (w *window) contiguous() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.next
}

func (w *window) acknowledged() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.count
}
