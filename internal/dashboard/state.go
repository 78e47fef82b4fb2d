package dashboard

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/votestream/votestream/internal/vote"
)

// state is the latest snapshot per key of aggregated_votes_topic and the
// audit result. Every change increments version and closes changed, so that
// any number of event streams can wait for the next change without polling.
type state struct {
	mu        sync.Mutex
	snapshots map[string]vote.TallySnapshot // by vote.TallyKey
	audit     *Audit
	version   uint64
	changed   chan struct{}

	// rendered caches the encoded Summary per requested election id for
	// the current version, because every open page asks for the same one.
	rendered        map[string][]byte
	renderedVersion uint64
}

func newState() *state {
	return &state{
		snapshots: map[string]vote.TallySnapshot{},
		changed:   make(chan struct{}),
		rendered:  map[string][]byte{},
	}
}

// bumpLocked records a change. The caller holds mu.
func (st *state) bumpLocked() {
	st.version++
	close(st.changed)
	st.changed = make(chan struct{})
}

// put stores snap under key, replacing the previous snapshot of that key.
func (st *state) put(key string, snap vote.TallySnapshot) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.snapshots[key] = snap
	st.bumpLocked()
}

// remove deletes key, as a tombstone (a record with a nil value) on a
// compacted topic asks.
func (st *state) remove(key string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.snapshots[key]; !ok {
		return
	}
	delete(st.snapshots, key)
	st.bumpLocked()
}

func (st *state) setAudit(a Audit) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.audit = &a
	st.bumpLocked()
}

// watch returns the current version and a channel that is closed at the next change.
func (st *state) watch() (uint64, <-chan struct{}) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.version, st.changed
}

// summary returns the Summary of electionID and the version it reflects.
func (st *state) summary(electionID string) (Summary, uint64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.summaryLocked(electionID), st.version
}

func (st *state) summaryLocked(electionID string) Summary {
	snapshots := make([]vote.TallySnapshot, 0, len(st.snapshots))
	for _, snap := range st.snapshots {
		snapshots = append(snapshots, snap)
	}
	s := Summarize(snapshots, electionID)
	if st.audit != nil {
		audit := *st.audit
		s.Audit = &audit
	}
	return s
}

// encodedSummary returns the JSON of the Summary of electionID and the
// version it reflects, from the cache when the version has not changed.
func (st *state) encodedSummary(electionID string) ([]byte, uint64, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.renderedVersion != st.version {
		clear(st.rendered)
		st.renderedVersion = st.version
	}
	if data, ok := st.rendered[electionID]; ok {
		return data, st.version, nil
	}
	data, err := json.Marshal(st.summaryLocked(electionID))
	if err != nil {
		return nil, 0, fmt.Errorf("encode summary of election %q: %w", electionID, err)
	}
	st.rendered[electionID] = data
	return data, st.version, nil
}
