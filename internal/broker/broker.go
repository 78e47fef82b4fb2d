// Package broker runs the embedded Kafka broker of the local stack and creates
// the topics that votestream uses.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/votestream/votestream/internal/vote"
)

// Options configures Start.
type Options struct {
	// Dir holds the broker's logs and offsets. A broker started again on the
	// same Dir reloads every topic, record and committed offset.
	Dir string
	// Port is the loopback port to listen on; 0 picks a free one.
	Port   int
	Logger *slog.Logger
}

// Broker is a single-node Kafka cluster from franz-go's kfake, listening on
// 127.0.0.1 only.
type Broker struct {
	cluster *kfake.Cluster
}

// Start starts the broker. kfake keeps record data in segment files under
// Dir and only their index in memory, so a national replay fits on a laptop.
func Start(opts Options) (*Broker, error) {
	if opts.Dir == "" {
		return nil, errors.New("start Kafka broker: no state directory given")
	}
	cluster, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.Ports(opts.Port),
		kfake.DataDir(opts.Dir),
	)
	if err != nil {
		return nil, fmt.Errorf("start Kafka broker on 127.0.0.1:%d with state in %s: %w", opts.Port, opts.Dir, err)
	}
	if opts.Logger != nil {
		opts.Logger.Info("Kafka broker started", "addrs", cluster.ListenAddrs(), "dir", opts.Dir)
	}
	return &Broker{cluster: cluster}, nil
}

// Addrs returns the broker's host:port addresses.
func (b *Broker) Addrs() []string { return b.cluster.ListenAddrs() }

// Close stops the broker and writes its state to disk.
func (b *Broker) Close() { b.cluster.Close() }

// Topic is a topic to create with EnsureTopics.
type Topic struct {
	Name       string
	Partitions int32
	Configs    map[string]*string
}

// StandardTopics returns votestream's topics: registrations, ballots with the
// given partition count, the compacted tally snapshots and the dead letters.
func StandardTopics(votePartitions int32) []Topic {
	compact := "compact"
	return []Topic{
		{Name: vote.VotersTopic, Partitions: votePartitions},
		{Name: vote.VotesTopic, Partitions: votePartitions},
		{Name: vote.AggregatesTopic, Partitions: 1, Configs: map[string]*string{"cleanup.policy": &compact}},
		{Name: vote.DeadLetterTopic, Partitions: 1},
	}
}

// EnsureTopics creates the topics that do not exist yet. An existing topic is
// left as it is, also when its partition count differs.
func EnsureTopics(ctx context.Context, client *kgo.Client, topics []Topic) error {
	adm := kadm.NewClient(client)
	for _, t := range topics {
		resp, err := adm.CreateTopic(ctx, t.Partitions, 1, t.Configs, t.Name)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s with %d partitions: %w", t.Name, t.Partitions, err)
		}
	}
	return nil
}

// EndOffsets returns the sum of the end offsets of all partitions of topic,
// which is the number of records ever produced to it.
func EndOffsets(ctx context.Context, client *kgo.Client, topic string) (int64, error) {
	adm := kadm.NewClient(client)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("list end offsets of %s: %w", topic, err)
	}
	var total int64
	var firstErr error
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil && firstErr == nil {
			firstErr = o.Err
		}
		total += o.Offset
	})
	if firstErr != nil {
		return 0, fmt.Errorf("list end offsets of %s: %w", topic, firstErr)
	}
	return total, nil
}

// GroupLag returns how many records of topic the consumer group has not yet
// committed past, summed over partitions. A group that never committed lags
// by every record.
func GroupLag(ctx context.Context, client *kgo.Client, group, topic string) (int64, error) {
	adm := kadm.NewClient(client)
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return 0, fmt.Errorf("fetch committed offsets of group %s: %w", group, err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("list end offsets of %s: %w", topic, err)
	}
	var lag int64
	ends.Each(func(end kadm.ListedOffset) {
		c, ok := committed.Lookup(topic, end.Partition)
		if !ok || c.Err != nil || c.At < 0 {
			lag += end.Offset
			return
		}
		lag += end.Offset - c.At
	})
	return lag, nil
}
