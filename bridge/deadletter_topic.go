package bridge

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// ensureDeadLetterTopic creates the dead-letter topic when it does not
// exist, with the broker's default partition count and replication factor.
// An existing topic is used as it is.
func (b *Bridge) ensureDeadLetterTopic(ctx context.Context) error {
	topic := b.cfg.DeadLetterTopic
	admin := kadm.NewClient(b.client)

	topics, err := admin.ListTopics(ctx, topic)
	if err != nil {
		return fmt.Errorf("look up dead-letter topic %q: %w", topic, err)
	}
	if detail, ok := topics[topic]; ok && detail.Err == nil {
		return nil
	}

	// -1 asks the broker for its defaults (Kafka 2.4 and later).
	resp, err := admin.CreateTopic(ctx, -1, -1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("dead-letter topic %q does not exist and creating it failed: %w; create it, or give the bridge's Kafka user the CREATE permission on it", topic, err)
	}
	b.cfg.Logger.Info("dead-letter topic created", "topic", topic)
	return nil
}
