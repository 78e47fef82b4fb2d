package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/votestream/votestream/internal/vote"
)

// pollingDay is the first polling hour of the synthetic election; ballots
// spread over the 13 hours from it.
var pollingDay = time.Date(2024, 11, 5, 7, 0, 0, 0, time.UTC)

// syntheticBallot returns ballot i of the benchmark's election: one voter
// per ballot, four candidates, cast times spread evenly over 13 polling
// hours in stream order, so that the bridge packs by a partition key that
// changes as a replay does.
func syntheticBallot(i, total int) vote.Vote {
	castAt := pollingDay.Add(time.Duration(int64(i) * int64(13*time.Hour) / int64(total)))
	return vote.Vote{
		VoteID:      fmt.Sprintf("7b1c0000-0000-4000-8000-%012d", i),
		ElectionID:  "bench-2024",
		VoterID:     strconv.Itoa(1_000_000 + i),
		CandidateID: strconv.Itoa(i % 4),
		CastAt:      vote.FormatTime(castAt),
		Channel:     vote.ChannelInPerson,
	}
}

// produceBallots writes n synthetic ballots to the votes topic, keyed by
// voter as the simulator does, and returns the total bytes of their values.
func produceBallots(ctx context.Context, brokers []string, n int) (int64, error) {
	client, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(vote.VotesTopic))
	if err != nil {
		return 0, fmt.Errorf("create Kafka producer: %w", err)
	}
	defer client.Close()

	var (
		mu       sync.Mutex
		firstErr error
		total    int64
	)
	for i := range n {
		value, err := json.Marshal(syntheticBallot(i, n))
		if err != nil {
			return 0, fmt.Errorf("encode ballot %d: %w", i, err)
		}
		total += int64(len(value))
		rec := &kgo.Record{Key: []byte(strconv.Itoa(1_000_000 + i)), Value: value}
		client.Produce(ctx, rec, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	if err := client.Flush(ctx); err != nil {
		return 0, fmt.Errorf("produce %d ballots: %w", n, err)
	}
	if firstErr != nil {
		return 0, fmt.Errorf("produce %d ballots: %w", n, firstErr)
	}
	return total, nil
}
