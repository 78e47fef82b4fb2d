package bridge

import (
	"log/slog"
	"sync"
	"time"
)

// DefaultRetryLogInterval is the shortest time between two logged retry
// warnings of one kind; see Sender.RetryLogInterval.
const DefaultRetryLogInterval = 10 * time.Second

// repeatedWarnings rate-limits warnings that repeat, such as one per retry
// while Firehose throttles. The first warning of a kind is logged at once.
// Later ones within the interval are only counted, and the next warning
// logged after the interval carries that count in the attribute
// "not_logged", so the log keeps both an example and the number of
// occurrences. It is safe for concurrent use.
type repeatedWarnings struct {
	interval time.Duration
	now      func() time.Time

	mu    sync.Mutex
	kinds map[string]*warningKind // by message
}

// warningKind is the state of one message.
type warningKind struct {
	lastLogged time.Time
	notLogged  int
	// lastAttrs are the attributes of the newest warning not logged, for the
	// summary that flush writes.
	lastAttrs []any
}

func newRepeatedWarnings(interval time.Duration) *repeatedWarnings {
	return &repeatedWarnings{interval: interval, now: time.Now, kinds: make(map[string]*warningKind)}
}

// warn logs msg with attrs at level Warn, unless a warning with the same
// msg was logged less than the interval ago, in which case it counts it.
func (r *repeatedWarnings) warn(logger *slog.Logger, msg string, attrs ...any) {
	now := r.now()

	r.mu.Lock()
	kind := r.kinds[msg]
	if kind == nil {
		kind = &warningKind{}
		r.kinds[msg] = kind
	}
	if !kind.lastLogged.IsZero() && now.Sub(kind.lastLogged) < r.interval {
		kind.notLogged++
		kind.lastAttrs = attrs
		r.mu.Unlock()
		return
	}
	notLogged := kind.notLogged
	kind.lastLogged = now
	kind.notLogged = 0
	kind.lastAttrs = nil
	r.mu.Unlock()

	logger.Warn(msg, append(attrs, "not_logged", notLogged)...)
}

// flush logs, for every message with warnings counted but not logged, the
// newest of them with the count. Call it when the sender stops, so that
// the count of a burst that ended within the interval is not lost.
func (r *repeatedWarnings) flush(logger *slog.Logger) {
	r.mu.Lock()
	type pending struct {
		msg       string
		attrs     []any
		notLogged int
	}
	var summaries []pending
	for msg, kind := range r.kinds {
		if kind.notLogged > 0 {
			// The summary is itself one of the counted warnings.
			summaries = append(summaries, pending{msg, kind.lastAttrs, kind.notLogged - 1})
			kind.notLogged = 0
			kind.lastAttrs = nil
			kind.lastLogged = r.now()
		}
	}
	r.mu.Unlock()

	for _, s := range summaries {
		logger.Warn(s.msg, append(s.attrs, "not_logged", s.notLogged)...)
	}
}
