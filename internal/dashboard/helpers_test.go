package dashboard_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/votestream/votestream/internal/broker"
	"github.com/votestream/votestream/internal/dashboard"
	"github.com/votestream/votestream/internal/vote"
)

// startBroker starts an embedded Kafka broker with the compacted snapshot
// topic and returns its addresses and a producer client.
func startBroker(t *testing.T) ([]string, *kgo.Client) {
	t.Helper()
	b, err := broker.Start(broker.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	t.Cleanup(b.Close)

	client, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.DefaultProduceTopic(vote.AggregatesTopic))
	if err != nil {
		t.Fatalf("create producer: %v", err)
	}
	t.Cleanup(client.Close)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, topic := range broker.StandardTopics(1) {
		if topic.Name == vote.AggregatesTopic {
			if err := broker.EnsureTopics(ctx, client, []broker.Topic{topic}); err != nil {
				t.Fatalf("create %s: %v", vote.AggregatesTopic, err)
			}
		}
	}
	return b.Addrs(), client
}

// publish produces snapshots keyed by vote.TallyKey and waits for the acks.
func publish(t *testing.T, client *kgo.Client, snapshots ...vote.TallySnapshot) {
	t.Helper()
	records := make([]*kgo.Record, 0, len(snapshots))
	for _, snap := range snapshots {
		value, err := json.Marshal(snap)
		if err != nil {
			t.Fatalf("encode snapshot: %v", err)
		}
		records = append(records, &kgo.Record{Key: []byte(vote.TallyKey(snap.ElectionID, snap.RegionCode)), Value: value})
	}
	produceRecords(t, client, records...)
}

func produceRecords(t *testing.T, client *kgo.Client, records ...*kgo.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatalf("produce %d snapshot records: %v", len(records), err)
	}
}

// startDashboard runs a dashboard Server on brokers and serves it on a
// loopback httptest server. Cleanup stops Run first, which ends the event
// streams, and then the HTTP server.
func startDashboard(t *testing.T, brokers []string) (*dashboard.Server, string) {
	t.Helper()
	srv, err := dashboard.New(dashboard.Config{
		Brokers:      brokers,
		PushInterval: 50 * time.Millisecond,
		Logger:       slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatalf("dashboard.New: %v", err)
	}
	url := newLoopbackServer(t, srv)

	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-runErr; !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v, want context.Canceled", err)
		}
	})
	return srv, url
}

// waitFor polls cond until it returns "" or the deadline passes, and then
// fails with the last reason cond gave.
func waitFor(t *testing.T, timeout time.Duration, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		reason := cond()
		if reason == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s: %s", timeout, reason)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// newLoopbackServer serves srv's handler on 127.0.0.1 until the test ends
// and returns its base URL.
func newLoopbackServer(t *testing.T, srv *dashboard.Server) string {
	t.Helper()
	httpServer := httptest.NewServer(srv.Handler())
	t.Cleanup(httpServer.Close)
	return httpServer.URL
}
