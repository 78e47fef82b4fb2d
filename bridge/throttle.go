package bridge

import (
	"context"
	"sync"
)

// callLimit is an adaptive limit on the PutRecordBatch calls in flight,
// adjusted by additive increase and multiplicative decrease (AIMD), as TCP
// congestion control adjusts its window. A throttled call
// (ServiceUnavailableException for the call or for any entry) halves the
// limit, down to 1; every call that is not throttled raises it by 1/limit,
// so a full round of calls without throttling raises it by about one, up to
// the configured maximum. With the limit at 1 the bridge makes one call at a
// time, and the throttled sender holds that one slot during its backoff, so
// the call rate falls with the backoff as well.
type callLimit struct {
	max int

	// mu guards the fields below.
	mu       sync.Mutex
	limit    float64
	inFlight int
	// released receives a value, without blocking, when a slot frees up or
	// the limit rises.
	released chan struct{}
}

func newCallLimit(max int) *callLimit {
	return &callLimit{max: max, limit: float64(max), released: make(chan struct{}, 1)}
}

// acquire waits until fewer calls than the limit are in flight and takes a
// slot. The caller must call release once for every nil return.
func (l *callLimit) acquire(ctx context.Context) error {
	for {
		l.mu.Lock()
		if l.inFlight < int(l.limit) {
			l.inFlight++
			more := l.inFlight < int(l.limit)
			l.mu.Unlock()
			if more {
				// Pass the wake-up on: a second free slot may have lost its
				// signal to the full channel.
				l.wake()
			}
			return nil
		}
		l.mu.Unlock()

		select {
		case <-l.released:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// feedback adjusts the limit after a call: halve it when the call was
// throttled, else raise it by 1/limit.
func (l *callLimit) feedback(throttled bool) {
	l.mu.Lock()
	if throttled {
		l.limit = max(1, l.limit/2)
	} else {
		l.limit = min(float64(l.max), l.limit+1/l.limit)
	}
	l.mu.Unlock()
	l.wake()
}

// release frees a slot taken by acquire.
func (l *callLimit) release() {
	l.mu.Lock()
	l.inFlight--
	l.mu.Unlock()
	l.wake()
}

// wake lets one waiting acquire check again. The channel holds one signal,
// and an acquire that leaves a slot free passes the signal on, so every free
// slot reaches a waiter.
func (l *callLimit) wake() {
	select {
	case l.released <- struct{}{}:
	default:
	}
}

// current returns the limit rounded down, as acquire applies it.
func (l *callLimit) current() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int(l.limit)
}
