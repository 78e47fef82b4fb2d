package simulate

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/votestream/votestream/internal/election"
	"github.com/votestream/votestream/internal/vote"
)

// writeElection writes a results file and a regions file to a temporary
// directory and loads them.
func writeElection(t testing.TB, name, results, regions string) *election.Election {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, name+".csv")
	if err := os.WriteFile(path, []byte(results), 0o644); err != nil {
		t.Fatal(err)
	}
	if regions != "" {
		if err := os.WriteFile(election.RegionsPath(path), []byte(regions), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e, err := election.Load(path)
	if err != nil {
		t.Fatalf("load election: %v", err)
	}
	return e
}

func tinyElection(t testing.TB) *election.Election {
	return writeElection(t, "tiny-2024",
		`region_code,region_name,candidate,party,votes
R1,North,Ada,Blue,120
R1,North,Bo,Red,95
R1,North,Cy,Green,7
R2,South,Ada,Blue,40
R2,South,Bo,Red,161
R3,East,Cy,Green,33
R3,East,Ada,Blue,0
`,
		`region_code,region_name,registered_voters,valid_votes
R1,North,400,222
R2,South,300,201
R3,East,90,33
`)
}

var testDay = election.Day{Date: time.Date(2024, 11, 5, 0, 0, 0, 0, time.UTC), Open: 7 * time.Hour, Close: 22 * time.Hour}

func newCluster(t testing.TB, partitions int32, topics ...string) *kfake.Cluster {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topics...))
	if err != nil {
		t.Fatalf("start kfake cluster: %v", err)
	}
	t.Cleanup(cluster.Close)
	return cluster
}

func newClient(t testing.TB, cluster *kfake.Cluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	client, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(cluster.ListenAddrs()...)}, opts...)...)
	if err != nil {
		t.Fatalf("create Kafka client: %v", err)
	}
	t.Cleanup(client.Close)
	return client
}

// consumeAll reads want records from the start of topic.
func consumeAll(t *testing.T, cluster *kfake.Cluster, topic string, want int) []*kgo.Record {
	t.Helper()
	consumer := newClient(t, cluster, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var records []*kgo.Record
	for len(records) < want {
		fetches := consumer.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %s: got %d of %d records before the timeout", topic, len(records), want)
		}
		records = append(records, fetches.Records()...)
	}
	return records
}

func TestRunMatchesResults(t *testing.T) {
	e := tinyElection(t)
	cluster := newCluster(t, 4, vote.VotesTopic)
	client := newClient(t, cluster, ProducerOpts()...)

	checkpoint := filepath.Join(t.TempDir(), "replay.checkpoint")
	var lastSent, progressTotal int64
	result, err := Run(context.Background(), Config{
		Election:       e,
		Day:            testDay,
		Seed:           7,
		Client:         client,
		MaxInFlight:    16, // smaller than the replay, so the window wraps
		CheckpointPath: checkpoint,
		Progress:       func(sent, total int64) { lastSent, progressTotal = sent, total },
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	total := e.TotalVotes()
	if result.Sent != total {
		t.Errorf("Sent = %d, want %d", result.Sent, total)
	}
	if result.Position != total {
		t.Errorf("Position = %d, want %d", result.Position, total)
	}
	if saved, err := LoadCheckpoint(checkpoint); err != nil || saved != total {
		t.Errorf("saved checkpoint = %d, %v; want %d", saved, err, total)
	}
	if lastSent != total || progressTotal != total {
		t.Errorf("last Progress call = (%d, %d), want (%d, %d)", lastSent, progressTotal, total, total)
	}

	records := consumeAll(t, cluster, vote.VotesTopic, int(total))
	if int64(len(records)) != total {
		t.Fatalf("read %d records, want %d", len(records), total)
	}

	x := e.Expand()
	partitionOf := make(map[string]int32)
	counts := make(map[[2]string]int64)
	voteIDs := make(map[string]bool)
	for _, rec := range records {
		v, err := vote.ParseVote(rec.Value)
		if err != nil {
			t.Fatalf("record at partition %d offset %d: %v", rec.Partition, rec.Offset, err)
		}
		if string(rec.Key) != v.VoterID {
			t.Errorf("record key %q, want voter id %q", rec.Key, v.VoterID)
		}
		if p, ok := partitionOf[v.VoterID]; ok && p != rec.Partition {
			t.Errorf("voter %s has ballots in partitions %d and %d", v.VoterID, p, rec.Partition)
		}
		partitionOf[v.VoterID] = rec.Partition
		if voteIDs[v.VoteID] {
			t.Errorf("vote_id %s produced twice", v.VoteID)
		}
		voteIDs[v.VoteID] = true

		var index int64
		if _, err := fmt.Sscan(v.VoterID, &index); err != nil {
			t.Fatalf("voter id %q is not a number", v.VoterID)
		}
		region := x.Voter(index-1, testDay.Date).Region
		counts[[2]string{region, v.CandidateID}]++
	}

	for _, r := range e.Results {
		key := [2]string{r.RegionCode, r.CandidateID}
		if counts[key] != r.Votes {
			t.Errorf("region %s candidate %s (%s): %d ballots, want %d", r.RegionCode, r.CandidateID, r.Candidate, counts[key], r.Votes)
		}
		delete(counts, key)
	}
	for key, n := range counts {
		t.Errorf("%d ballots for region %s candidate %s, which has no result row", n, key[0], key[1])
	}
}

func TestRunResumesFromStart(t *testing.T) {
	e := tinyElection(t)
	cluster := newCluster(t, 2, vote.VotesTopic)
	client := newClient(t, cluster, ProducerOpts()...)
	total := e.TotalVotes()
	const start = 100

	result, err := Run(context.Background(), Config{Election: e, Day: testDay, Seed: 7, Client: client, Start: start})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if result.Sent != total-start {
		t.Errorf("Sent = %d, want %d", result.Sent, total-start)
	}

	// The resumed run produces exactly the ballots at positions start and
	// later of a full replay with the same seed.
	x := e.Expand()
	order := election.Order(total, 7)
	want := make(map[string]bool)
	for p := int64(start); p < total; p++ {
		want[x.Ballot(int64(order[p]), 0, testDay.CastAt(p, total)).VoteID] = true
	}
	for _, rec := range consumeAll(t, cluster, vote.VotesTopic, int(total-start)) {
		var v vote.Vote
		if err := json.Unmarshal(rec.Value, &v); err != nil {
			t.Fatal(err)
		}
		if !want[v.VoteID] {
			t.Errorf("vote %s is not at a position from %d on", v.VoteID, start)
		}
		delete(want, v.VoteID)
	}
	if len(want) != 0 {
		t.Errorf("%d ballots from position %d on were not produced", len(want), start)
	}
}

func TestRunRejectsStartPastEnd(t *testing.T) {
	e := tinyElection(t)
	cluster := newCluster(t, 1, vote.VotesTopic)
	client := newClient(t, cluster)
	if _, err := Run(context.Background(), Config{Election: e, Day: testDay, Client: client, Start: e.TotalVotes() + 1}); err == nil {
		t.Error("Run returned nil for a start position past the end")
	}
}

func TestRunStopsOnProduceError(t *testing.T) {
	e := tinyElection(t)
	cluster := newCluster(t, 1, vote.VotesTopic)
	client := newClient(t, cluster, kgo.RecordDeliveryTimeout(2*time.Second))

	result, err := Run(context.Background(), Config{Election: e, Day: testDay, Client: client, Topic: "no_such_topic"})
	if err == nil {
		t.Fatal("Run returned nil for a topic that does not exist")
	}
	if !strings.Contains(err.Error(), "no_such_topic") {
		t.Errorf("error %q does not name the topic", err)
	}
	if result.Position != 0 {
		t.Errorf("Position = %d after every produce failed, want 0", result.Position)
	}
	if result.Sent != 0 {
		t.Errorf("Sent = %d after every produce failed, want 0", result.Sent)
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "replay.checkpoint")

	got, err := LoadCheckpoint(path)
	if err != nil || got != 0 {
		t.Fatalf("LoadCheckpoint of a missing file = %d, %v; want 0, nil", got, err)
	}
	for _, position := range []int64{0, 42, 28_800_000} {
		if err := SaveCheckpoint(path, position); err != nil {
			t.Fatalf("SaveCheckpoint(%d): %v", position, err)
		}
		got, err := LoadCheckpoint(path)
		if err != nil {
			t.Fatalf("LoadCheckpoint: %v", err)
		}
		if got != position {
			t.Errorf("LoadCheckpoint = %d, want %d", got, position)
		}
	}

	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d files, want only the checkpoint: temporary files must not remain", len(entries))
	}
}

func TestLoadCheckpointRejectsGarbage(t *testing.T) {
	for _, content := range []string{"", "abc\n", "-5\n"} {
		path := filepath.Join(t.TempDir(), "replay.checkpoint")
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadCheckpoint(path); err == nil {
			t.Errorf("LoadCheckpoint(%q) returned nil error", content)
		}
	}
}

func TestWindowContiguous(t *testing.T) {
	w := newWindow(10, 4)
	for _, p := range []int64{11, 13, 12} {
		w.release(p, true)
	}
	if got := w.contiguous(); got != 10 {
		t.Errorf("contiguous = %d with position 10 pending, want 10", got)
	}
	w.release(10, true)
	if got := w.contiguous(); got != 14 {
		t.Errorf("contiguous = %d after 10 to 13 acknowledged, want 14", got)
	}
	w.release(15, true)
	w.release(14, false)
	if got := w.contiguous(); got != 14 {
		t.Errorf("contiguous = %d after position 14 failed, want 14", got)
	}
}
