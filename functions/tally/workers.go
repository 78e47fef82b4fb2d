package tally

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// partitionGroup contains the records of whole partitions of one poll, which
// one worker applies in one ledger transaction. A partition is never split
// over groups, so its records stay in offset order in one transaction.
// votes_topic is keyed by voter, so each voter's ballots meet the
// first-ballot rule there. Groups share no voters, so their transactions
// conflict only on the tally rows.
type partitionGroup struct {
	records []*kgo.Record
	msgs    []Message
}

// groupPartitions splits records into at most n groups of whole partitions
// with about as many records each. It takes the partitions largest first and
// adds each to the group with the fewest records so far.
func groupPartitions(records []*kgo.Record, n int) []*partitionGroup {
	type topicPartition struct {
		topic     string
		partition int32
	}
	byPartition := map[topicPartition][]*kgo.Record{}
	for _, r := range records {
		tp := topicPartition{r.Topic, r.Partition}
		byPartition[tp] = append(byPartition[tp], r)
	}
	partitions := make([]topicPartition, 0, len(byPartition))
	for tp := range byPartition {
		partitions = append(partitions, tp)
	}
	slices.SortFunc(partitions, func(a, b topicPartition) int {
		return cmp.Or(-cmp.Compare(len(byPartition[a]), len(byPartition[b])), cmp.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition))
	})

	groups := make([]*partitionGroup, min(n, len(partitions)))
	for i := range groups {
		groups[i] = &partitionGroup{}
	}
	for _, tp := range partitions {
		smallest := slices.MinFunc(groups, func(a, b *partitionGroup) int { return cmp.Compare(len(a.records), len(b.records)) })
		smallest.records = append(smallest.records, byPartition[tp]...)
	}
	for _, g := range groups {
		g.msgs = make([]Message, len(g.records))
		for i, r := range g.records {
			g.msgs[i] = Message{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value}
		}
	}
	return groups
}

// applyPoll applies the records of one poll in up to workers concurrent
// ledger transactions, one per partition group, and then publishes the
// snapshots of every region they touched once. It returns the records whose
// offsets may be committed, which are those of the groups whose transaction
// committed, and none when the snapshots could not be published. A group that fails is retried
// after backoff until it is applied or ctx ends, so when ctx stays alive,
// every record is returned.
//
// When ctx ends, applyPoll still publishes the snapshots of the groups that
// were applied, with a detached context bounded by stopTimeout, so that the
// caller can commit their partitions and fewer records replay. The other
// partitions are left uncommitted and replay from their last commit.
func applyPoll(ctx context.Context, h *Handler, records []*kgo.Record, workers int, backoff time.Duration, log *slog.Logger) []*kgo.Record {
	groups := groupPartitions(records, workers)
	results := make([]BatchResult, len(groups))
	applied := make([]bool, len(groups))
	var wg sync.WaitGroup
	for i, g := range groups {
		wg.Go(func() {
			apply := func(ctx context.Context) error {
				var err error
				results[i], err = h.ledger.Apply(ctx, g.msgs)
				return err
			}
			applied[i] = retryUntilDone(ctx, backoff, apply, func(attempt int, err error) {
				first := g.msgs[0]
				log.Error("tally batch failed, retrying", "attempt", attempt, "records", len(g.msgs),
					"partition", first.Partition, "offset", first.Offset, "error", err)
			})
		})
	}
	wg.Wait()

	var done []*kgo.Record
	touched := map[RegionKey]bool{}
	var total BatchResult
	for i, g := range groups {
		if !applied[i] {
			continue
		}
		done = append(done, g.records...)
		for _, k := range results[i].Touched {
			touched[k] = true
		}
		total.Accepted += results[i].Accepted
		total.Redelivered += results[i].Redelivered
		total.Replayed += results[i].Replayed
	}
	if len(done) == 0 {
		return nil
	}
	keys := make([]RegionKey, 0, len(touched))
	for k := range touched {
		keys = append(keys, k)
	}
	sortKeys(keys)

	// The ledger has committed these groups, so a snapshot published now
	// contains them. A failed publish is retried like a failed batch, because
	// committing the offsets without it would lose the snapshots of regions
	// that no later record touches.
	var published int
	publish := func(ctx context.Context) error {
		var err error
		published, err = h.publishSnapshots(ctx, keys)
		return err
	}
	if !retryUntilDone(ctx, backoff, publish, func(attempt int, err error) {
		log.Error("publishing snapshots failed, retrying", "attempt", attempt, "snapshots", len(keys), "error", err)
	}) {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
		defer cancel()
		if err := publish(stopCtx); err != nil {
			log.Warn("publishing snapshots failed while stopping, so their partitions stay uncommitted and replay",
				"snapshots", len(keys), "records", len(done), "error", err)
			return nil
		}
	}
	log.Debug("poll applied", "records", len(records), "committable", len(done), "groups", len(groups),
		"accepted", total.Accepted, "redelivered", total.Redelivered, "replayed", total.Replayed, "snapshots", published)
	return done
}

// retryUntilDone runs fn until it returns nil, waiting backoff after each
// failure, and returns false when ctx ended first. It calls logFailure with
// each error after which it retries.
func retryUntilDone(ctx context.Context, backoff time.Duration, fn func(context.Context) error, logFailure func(attempt int, err error)) bool {
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		logFailure(attempt, err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(backoff):
		}
	}
}
