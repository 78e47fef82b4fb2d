package bridge

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/votestream/votestream/internal/vote"
)

// testTimeout bounds how long a test waits for the bridge to catch up. It is
// a guard against hanging, not a performance assertion.
const testTimeout = 60 * time.Second

func newCluster(t *testing.T, partitions int32) *kfake.Cluster {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, vote.VotesTopic, vote.DeadLetterTopic))
	if err != nil {
		t.Fatalf("start kfake cluster: %v", err)
	}
	t.Cleanup(cluster.Close)
	return cluster
}

func newClient(t *testing.T, cluster *kfake.Cluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	client, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(cluster.ListenAddrs()...)}, opts...)...)
	if err != nil {
		t.Fatalf("create Kafka client: %v", err)
	}
	t.Cleanup(client.Close)
	return client
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// testVote returns ballot i of a small synthetic stream that spreads over two
// elections and three hours, so that packing must split by partition key.
func testVote(i int) vote.Vote {
	at := time.Date(2024, 11, 5, 10+i%3, i%60, 0, 0, time.UTC)
	return vote.Vote{
		VoteID:      fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
		ElectionID:  []string{"e-one", "e-two"}[i%2],
		VoterID:     strconv.Itoa(i),
		CandidateID: strconv.Itoa(i % 4),
		CastAt:      vote.FormatTime(at),
		Channel:     vote.ChannelInPerson,
	}
}

func produceVotes(t *testing.T, client *kgo.Client, from, to int) {
	t.Helper()
	var records []*kgo.Record
	for i := from; i < to; i++ {
		v := testVote(i)
		value, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		records = append(records, &kgo.Record{Topic: vote.VotesTopic, Key: []byte(v.VoterID), Value: value})
	}
	if err := client.ProduceSync(context.Background(), records...).FirstErr(); err != nil {
		t.Fatalf("produce votes %d to %d: %v", from, to, err)
	}
}

// badMessages are values the bridge must dead-letter, keyed by a name.
func badMessages() map[string][]byte {
	valid := testVote(0)
	missing := valid
	missing.VoteID = ""
	badChannel := valid
	badChannel.Channel = "carrier pigeon"
	offsetTime := valid
	offsetTime.CastAt = "2024-11-05T10:00:00+01:00"

	oversized, _ := json.Marshal(struct {
		vote.Vote
		Padding string `json:"padding"`
	}{valid, strings.Repeat("p", 3000)})

	encode := func(v vote.Vote) []byte {
		b, _ := json.Marshal(v)
		return b
	}
	return map[string][]byte{
		"not-utf8":    {0xff, 0xfe, '{', '}'},
		"array":       []byte(`[1,2,3]`),
		"not-json":    []byte(`vote for me`),
		"empty":       nil,
		"missing-id":  encode(missing),
		"bad-channel": encode(badChannel),
		"offset-time": encode(offsetTime),
		"oversized":   oversized,
	}
}

func produceBad(t *testing.T, client *kgo.Client) map[string][]byte {
	t.Helper()
	bad := badMessages()
	for name, value := range bad {
		rec := &kgo.Record{Topic: vote.VotesTopic, Key: []byte("bad-" + name), Value: value}
		if err := client.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
			t.Fatalf("produce bad message %q: %v", name, err)
		}
	}
	return bad
}

func testConfig(t *testing.T, cluster *kfake.Cluster, fake Firehose) Config {
	return Config{
		Brokers:           cluster.ListenAddrs(),
		StreamName:        "votestream-votes",
		Firehose:          fake,
		TargetRecordBytes: 1024,
		MaxRecordBytes:    2048,
		MaxBatchRecords:   7,
		MaxBatchBytes:     4096,
		FlushInterval:     20 * time.Millisecond,
		BackoffBase:       time.Millisecond,
		BackoffMax:        5 * time.Millisecond,
		CommitInterval:    50 * time.Millisecond,
		DrainTimeout:      20 * time.Second,
		Logger:            testLogger(t),
	}
}

// flakyFirehose fails the entry at position 0 of every third call and the
// whole of every fifth call, so that both retry paths run.
func flakyFirehose() *fakeFirehose {
	return &fakeFirehose{respond: func(n int, records [][]byte) (map[int]string, error) {
		switch {
		case n%5 == 4:
			return nil, fmt.Errorf("injected call failure %d", n)
		case n%3 == 0:
			return map[int]string{0: errorCodeThrottled}, nil
		}
		return nil, nil
	}}
}

// runBridge starts b and returns a function that cancels it and returns
// the error of Run.
func runBridge(t *testing.T, b *Bridge) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			err = <-done
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

// waitFor polls cond until it holds or testTimeout passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", testTimeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// deliveredEnvelope is one line of an accepted Firehose record.
type deliveredEnvelope struct {
	vote.Envelope
	ballot vote.Vote
	key    PartitionKey
}

// decodeAccepted splits accepted records into envelopes and checks that no
// record mixes partition keys.
func decodeAccepted(t *testing.T, fake *fakeFirehose) []deliveredEnvelope {
	t.Helper()
	var out []deliveredEnvelope
	for i, data := range fake.acceptedRecords() {
		if !bytes.HasSuffix(data, []byte("\n")) {
			t.Errorf("record %d does not end in a newline", i)
		}
		var recordKey *PartitionKey
		scanner := bufio.NewScanner(bytes.NewReader(data))
		scanner.Buffer(nil, FirehoseMaxRecordBytes)
		for scanner.Scan() {
			var env deliveredEnvelope
			if err := json.Unmarshal(scanner.Bytes(), &env.Envelope); err != nil {
				t.Fatalf("record %d: line %q is not an envelope: %v", i, scanner.Text(), err)
			}
			ballot, err := vote.ParseVote(env.Vote)
			if err != nil {
				t.Fatalf("record %d: envelope carries an invalid vote: %v", i, err)
			}
			castAt, _ := ballot.CastTime()
			env.ballot = ballot
			env.key = KeyOf(ballot.ElectionID, castAt)
			if recordKey == nil {
				recordKey = &env.key
			} else if *recordKey != env.key {
				t.Errorf("record %d mixes partition keys %+v and %+v", i, *recordKey, env.key)
			}
			out = append(out, env)
		}
	}
	return out
}

// assertCommittedAtEnd checks that the group committed the end offset of
// every partition of the votes topic.
func assertCommittedAtEnd(t *testing.T, cluster *kfake.Cluster, group string) {
	t.Helper()
	admin := kadm.NewClient(newClient(t, cluster))
	ctx := context.Background()
	ends, err := admin.ListEndOffsets(ctx, vote.VotesTopic)
	if err != nil {
		t.Fatalf("list end offsets: %v", err)
	}
	committed, err := admin.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("fetch committed offsets of group %q: %v", group, err)
	}
	ends.Each(func(end kadm.ListedOffset) {
		got, ok := committed.Lookup(end.Topic, end.Partition)
		if !ok {
			if end.Offset != 0 {
				t.Errorf("partition %d: nothing committed, end offset %d", end.Partition, end.Offset)
			}
			return
		}
		if got.At != end.Offset {
			t.Errorf("partition %d: committed %d, end offset %d", end.Partition, got.At, end.Offset)
		}
	})
}

func TestBridgeEndToEnd(t *testing.T) {
	cluster := newCluster(t, 3)
	producer := newClient(t, cluster)
	const votes = 2000
	produceVotes(t, producer, 0, votes/2)
	bad := produceBad(t, producer)
	produceVotes(t, producer, votes/2, votes)

	fake := flakyFirehose()
	cfg := testConfig(t, cluster, fake)
	b, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	stop := runBridge(t, b)
	waitFor(t, "every vote accepted and every bad message dead-lettered", func() bool {
		s := b.Stats()
		return s.VotesSent >= votes && s.DeadLettered == int64(len(bad))
	})
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}

	// Every vote arrived at least once, with its true Kafka coordinates.
	envelopes := decodeAccepted(t, fake)
	seen := make(map[string]bool)
	for _, env := range envelopes {
		seen[env.ballot.VoteID] = true
		if env.Topic != vote.VotesTopic {
			t.Errorf("envelope topic = %q, want %q", env.Topic, vote.VotesTopic)
		}
		if _, err := time.Parse(vote.CastAtLayout, env.Timestamp); err != nil {
			t.Errorf("envelope timestamp %q is not in CastAtLayout: %v", env.Timestamp, err)
		}
	}
	for i := range votes {
		if id := testVote(i).VoteID; !seen[id] {
			t.Errorf("vote %s was never delivered", id)
		}
	}

	// Every bad message is in the dead-letter topic, unchanged, with headers.
	dead := readDeadLetters(t, cluster, len(bad))
	for name, value := range bad {
		rec, ok := dead["bad-"+name]
		if !ok {
			t.Errorf("bad message %q is not in the dead-letter topic", name)
			continue
		}
		if !bytes.Equal(rec.Value, value) {
			t.Errorf("dead letter %q value = %q, want it unchanged: %q", name, rec.Value, value)
		}
		headers := make(map[string]string)
		for _, h := range rec.Headers {
			headers[h.Key] = string(h.Value)
		}
		if headers[HeaderReason] == "" {
			t.Errorf("dead letter %q has no %s header", name, HeaderReason)
		}
		if headers[HeaderSourceTopic] != vote.VotesTopic {
			t.Errorf("dead letter %q: %s = %q, want %q", name, HeaderSourceTopic, headers[HeaderSourceTopic], vote.VotesTopic)
		}
		if _, err := strconv.ParseInt(headers[HeaderSourcePartition], 10, 32); err != nil {
			t.Errorf("dead letter %q: %s = %q is not a partition", name, HeaderSourcePartition, headers[HeaderSourcePartition])
		}
		if _, err := strconv.ParseInt(headers[HeaderSourceOffset], 10, 64); err != nil {
			t.Errorf("dead letter %q: %s = %q is not an offset", name, HeaderSourceOffset, headers[HeaderSourceOffset])
		}
	}

	assertCommittedAtEnd(t, cluster, DefaultGroup)

	s := b.Stats()
	if s.RecordsIn < votes+int64(len(bad)) {
		t.Errorf("RecordsIn = %d, want at least %d", s.RecordsIn, votes+len(bad))
	}
	if s.FailedCalls == 0 || s.FailedEntriesRetried == 0 {
		t.Errorf("FailedCalls = %d, FailedEntriesRetried = %d; the flaky fake should have caused both", s.FailedCalls, s.FailedEntriesRetried)
	}
	if s.BilledBytes >= s.UnpackedBilledBytes {
		t.Errorf("BilledBytes = %d, want less than unpacked %d", s.BilledBytes, s.UnpackedBilledBytes)
	}
}

func readDeadLetters(t *testing.T, cluster *kfake.Cluster, want int) map[string]*kgo.Record {
	t.Helper()
	consumer := newClient(t, cluster, kgo.ConsumeTopics(vote.DeadLetterTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	byKey := make(map[string]*kgo.Record)
	total := 0
	for total < want {
		fetches := consumer.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read dead-letter topic: got %d of %d messages: %v", total, want, err)
		}
		fetches.EachRecord(func(rec *kgo.Record) {
			byKey[string(rec.Key)] = rec
			total++
		})
	}
	return byKey
}

func TestBridgeRebalance(t *testing.T) {
	cluster := newCluster(t, 6)
	producer := newClient(t, cluster)

	// produceUntil produces votes in small steps until cond holds, so that
	// a member that joins late still finds new records in its partitions.
	produced := 0
	produceUntil := func(what string, cond func() bool) {
		t.Helper()
		waitFor(t, what, func() bool {
			if cond() {
				return true
			}
			produceVotes(t, producer, produced, produced+60)
			produced += 60
			return false
		})
	}

	fake := flakyFirehose()
	first, err := New(testConfig(t, cluster, fake))
	if err != nil {
		t.Fatal(err)
	}
	stopFirst := runBridge(t, first)
	produceUntil("the first bridge to deliver", func() bool { return first.Stats().VotesSent > 0 })

	// A second member joins: partitions move, and the first member must
	// commit what it finished and stop committing the moved partitions.
	second, err := New(testConfig(t, cluster, fake))
	if err != nil {
		t.Fatal(err)
	}
	stopSecond := runBridge(t, second)
	produceUntil("the second bridge to deliver", func() bool { return second.Stats().VotesSent > 0 })

	// The first leaves: its partitions move to the second.
	if err := stopFirst(); err != nil {
		t.Fatalf("first Run: %v", err)
	}
	produceVotes(t, producer, produced, produced+300)
	produced += 300

	waitFor(t, "every vote delivered", func() bool {
		seen := make(map[string]bool)
		for _, env := range decodeAccepted(t, fake) {
			seen[env.ballot.VoteID] = true
		}
		return len(seen) == produced
	})
	if err := stopSecond(); err != nil {
		t.Fatalf("second Run: %v", err)
	}
	assertCommittedAtEnd(t, cluster, DefaultGroup)
}

func TestBridgeDrainTimeoutKeepsUncommitted(t *testing.T) {
	cluster := newCluster(t, 1)
	producer := newClient(t, cluster)
	produceVotes(t, producer, 0, 50)

	// Firehose is down for good: nothing may be committed.
	fake := &fakeFirehose{respond: func(int, [][]byte) (map[int]string, error) {
		return nil, fmt.Errorf("injected outage")
	}}
	cfg := testConfig(t, cluster, fake)
	cfg.DrainTimeout = 200 * time.Millisecond
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	stop := runBridge(t, b)
	waitFor(t, "the bridge to read and try to send", func() bool {
		return b.Stats().RecordsIn == 50 && b.Stats().FailedCalls > 0
	})
	if err := stop(); err == nil {
		t.Error("Run returned nil, want an error naming the records not acknowledged")
	}

	admin := kadm.NewClient(newClient(t, cluster))
	committed, err := admin.FetchOffsets(context.Background(), DefaultGroup)
	if err != nil {
		t.Fatalf("fetch committed offsets: %v", err)
	}
	if got, ok := committed.Lookup(vote.VotesTopic, 0); ok && got.At > 0 {
		t.Errorf("committed offset %d with no vote accepted, want none", got.At)
	}
}

func TestConfigValidation(t *testing.T) {
	valid := Config{Brokers: []string{"127.0.0.1:9092"}, StreamName: "s", Firehose: &fakeFirehose{}}
	tests := []struct {
		name   string
		change func(*Config)
	}{
		{"no brokers", func(c *Config) { c.Brokers = nil }},
		{"no stream", func(c *Config) { c.StreamName = "" }},
		{"no firehose", func(c *Config) { c.Firehose = nil }},
		{"record over Firehose limit", func(c *Config) { c.MaxRecordBytes = FirehoseMaxRecordBytes + 1 }},
		{"target over record limit", func(c *Config) { c.TargetRecordBytes = FirehoseMaxRecordBytes + 1 }},
		{"too many records per call", func(c *Config) { c.MaxBatchRecords = 501 }},
		{"batch over 4 MiB", func(c *Config) { c.MaxBatchBytes = FirehoseMaxBatchBytes + 1 }},
		{"dead letters into the source", func(c *Config) { c.DeadLetterTopic = vote.VotesTopic }},
		{"backoff cap below base", func(c *Config) { c.BackoffBase = time.Second; c.BackoffMax = time.Millisecond }},
	}
	if _, err := New(valid); err != nil {
		t.Fatalf("New(valid config): %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid
			tt.change(&cfg)
			if _, err := New(cfg); err == nil {
				t.Error("New returned nil error")
			}
		})
	}
}
