package dashboard

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/votestream/votestream/internal/vote"
)

// consume polls the snapshot topic until ctx is done and applies every
// record to the state. The client has no consumer group and starts at the
// earliest offset of every partition, so each start replays the compacted
// topic and ends with the latest snapshot of every key.
func (s *Server) consume(ctx context.Context) error {
	for {
		fetches := s.client.PollFetches(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if fetches.IsClientClosed() {
			return errors.New("read snapshots: Kafka client closed")
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			s.logFetchError(topic, partition, err)
		})
		fetches.EachRecord(s.apply)
	}
}

// apply stores one snapshot record. A record without a key is stored under
// the key that its election and region give; a record with a nil value is a
// tombstone and removes its key.
func (s *Server) apply(r *kgo.Record) {
	key := string(r.Key)
	if r.Value == nil {
		if key != "" {
			s.state.remove(key)
		}
		return
	}

	var snap vote.TallySnapshot
	if err := json.Unmarshal(r.Value, &snap); err != nil {
		s.logger.Warn("dashboard: skipped a snapshot that is not valid JSON",
			"topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "key", key, "error", err)
		return
	}
	if snap.ElectionID == "" {
		s.logger.Warn("dashboard: skipped a snapshot without election_id",
			"topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "key", key)
		return
	}
	if key == "" {
		key = vote.TallyKey(snap.ElectionID, snap.RegionCode)
	}
	s.state.put(key, snap)
}

// logFetchError logs the first occurrence of each distinct fetch error and
// then every 100th, because the client retries a missing topic or an
// unreachable broker for as long as it runs.
func (s *Server) logFetchError(topic string, partition int32, err error) {
	s.fetchErrorsMu.Lock()
	s.fetchErrors[err.Error()]++
	n := s.fetchErrors[err.Error()]
	s.fetchErrorsMu.Unlock()

	if n == 1 || n%100 == 0 {
		s.logger.Warn("dashboard: fetch of snapshots failed; the Kafka client retries",
			"topic", topic, "partition", partition, "error", err, "occurrences", n)
	}
}
