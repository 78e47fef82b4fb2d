package tally

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/votestream/votestream/infra/loader"
	"github.com/votestream/votestream/infra/migrations"
	"github.com/votestream/votestream/internal/broker"
	"github.com/votestream/votestream/internal/election"
	"github.com/votestream/votestream/internal/pgcluster/pgtest"
	"github.com/votestream/votestream/internal/simulate"
	"github.com/votestream/votestream/internal/vote"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

var testDay = election.Day{Date: time.Date(2024, 11, 5, 0, 0, 0, 0, time.UTC), Open: 7 * time.Hour, Close: 22 * time.Hour}

// loadElection writes a small election, migrates a fresh database and loads
// the election into it.
func loadElection(t *testing.T) (*pgxpool.Pool, *election.Election) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "tiny-2024.csv")
	results := "region_code,region_name,candidate,party,votes\nR1,North,Ada,Blue,60\nR1,North,Bo,Red,45\nR2,South,Ada,Blue,20\nR2,South,Bo,Red,81\nR3,East,Cy,Green,33\n"
	regions := "region_code,region_name,registered_voters,valid_votes\nR1,North,400,105\nR2,South,300,101\nR3,East,,33\n"
	if err := os.WriteFile(path, []byte(results), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(election.RegionsPath(path), []byte(regions), 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := election.Load(path)
	if err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	pool, err := pgxpool.New(ctx, pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := migrations.Apply(ctx, pool); err != nil {
		t.Fatalf("migrations.Apply: %v", err)
	}
	if _, err := loader.Load(ctx, pool, e, testDay, nil); err != nil {
		t.Fatalf("loader.Load: %v", err)
	}
	return pool, e
}

func ballotMessage(t *testing.T, b vote.Vote, partition int32, offset int64) Message {
	t.Helper()
	value, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return Message{Topic: vote.VotesTopic, Partition: partition, Offset: offset, Key: []byte(b.VoterID), Value: value}
}

// recordingPublisher keeps the last snapshot of each key, as a compacted
// topic would.
type recordingPublisher struct {
	last map[string]vote.TallySnapshot
}

func (p *recordingPublisher) Publish(_ context.Context, snapshots []vote.TallySnapshot) error {
	for _, s := range snapshots {
		p.last[vote.TallyKey(s.ElectionID, s.RegionCode)] = s
	}
	return nil
}

func TestApplyLedgerRule(t *testing.T) {
	ctx := context.Background()
	pool, e := loadElection(t)
	x := e.Expand()
	at := testDay.Date.Add(9*time.Hour + 7*time.Minute)

	first := x.Ballot(0, 0, at)    // voter 1, region R1, Ada
	second := x.Ballot(0, 1, at)   // voter 1 again
	other := x.Ballot(100, 0, at)  // voter 101, region R1, Bo
	stranger := x.Ballot(1, 2, at) // unregistered voter
	stranger.VoterID = "unregistered-2"
	noCandidate := x.Ballot(2, 3, at) // voter 3, unknown candidate
	noCandidate.CandidateID = "no-such-candidate"
	late := x.Ballot(2, 0, at) // voter 3's valid ballot after the rejected one

	msgs := []Message{
		ballotMessage(t, first, 0, 10),
		ballotMessage(t, second, 0, 11),
		ballotMessage(t, first, 0, 12), // redelivery
		ballotMessage(t, other, 1, 5),
		ballotMessage(t, stranger, 2, 0),
		ballotMessage(t, noCandidate, 3, 0),
		ballotMessage(t, late, 3, 1),
		{Topic: vote.VotesTopic, Partition: 2, Offset: 1, Key: []byte("x"), Value: []byte(`{"election_id":"tiny-2024","vote_id":"not-a-uuid"}`)},
	}

	ledger := NewLedger(pool, nil)
	result, err := ledger.Apply(ctx, append([]Message(nil), msgs...))
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if result.Accepted != 3 {
		t.Errorf("accepted = %d, want 3", result.Accepted)
	}
	wantRejected := map[string]int{ReasonDuplicateVoter: 1, ReasonUnknownVoter: 1, ReasonUnknownCandidate: 1, ReasonMalformed: 1}
	if !maps.Equal(result.Rejected, wantRejected) {
		t.Errorf("rejected = %v, want %v", result.Rejected, wantRejected)
	}
	if result.Redelivered != 1 {
		t.Errorf("redelivered = %d, want 1", result.Redelivered)
	}

	again, err := ledger.Apply(ctx, append([]Message(nil), msgs...))
	if err != nil {
		t.Fatalf("Apply again: %v", err)
	}
	if again.Accepted != 0 || len(again.Rejected) != 0 {
		t.Errorf("second Apply accepted %d and rejected %v, want nothing", again.Accepted, again.Rejected)
	}
	if again.Replayed != 7 {
		t.Errorf("second Apply replayed %d, want the 7 records other than the redelivery", again.Replayed)
	}

	counts, rejected, err := Totals(ctx, pool, e.ID)
	if err != nil {
		t.Fatalf("Totals: %v", err)
	}
	got := map[string]int64{}
	for _, c := range counts {
		got[c.RegionCode+"/"+c.Candidate] += c.Votes
	}
	wantCounts := map[string]int64{"R1/Ada": 2, "R1/Bo": 1}
	if !maps.Equal(got, wantCounts) {
		t.Errorf("ledger counts = %v, want %v", got, wantCounts)
	}
	wantRejected64 := map[string]int64{ReasonDuplicateVoter: 1, ReasonUnknownVoter: 1, ReasonUnknownCandidate: 1, ReasonMalformed: 1}
	if !maps.Equal(rejected, wantRejected64) {
		t.Errorf("ledger rejects = %v, want %v", rejected, wantRejected64)
	}
	redelivered, err := Redeliveries(ctx, pool, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if redelivered != 1 {
		t.Errorf("Redeliveries = %d, want 1", redelivered)
	}
}

func TestSnapshotsMatchLedger(t *testing.T) {
	ctx := context.Background()
	pool, e := loadElection(t)
	x := e.Expand()
	at := testDay.Date.Add(9*time.Hour + 20*time.Minute)

	var msgs []Message
	for i := int64(0); i < x.Total(); i += 3 {
		msgs = append(msgs, ballotMessage(t, x.Ballot(i, 0, at.Add(time.Duration(i)*time.Minute)), int32(i%4), i))
	}
	publisher := &recordingPublisher{last: map[string]vote.TallySnapshot{}}
	h, err := NewHandler(pool, publisher, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Two batches, so snapshots of the second build on tallies of the first.
	half := len(msgs) / 2
	for _, batch := range [][]Message{msgs[:half], msgs[half:]} {
		if _, err := h.HandleBatch(ctx, batch); err != nil {
			t.Fatalf("HandleBatch: %v", err)
		}
	}

	counts, _, err := Totals(ctx, pool, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	ledger := map[string]int64{}
	perRegion := map[string]int64{}
	for _, c := range counts {
		ledger[vote.TallyKey(e.ID, c.RegionCode)+"/"+c.CandidateID] = c.Votes
		perRegion[c.RegionCode] += c.Votes
	}
	fromSnapshots := map[string]int64{}
	for key, s := range publisher.last {
		var timeline, ages int64
		for _, n := range s.Timeline {
			timeline += n
		}
		for _, n := range s.AgeBands {
			ages += n
		}
		if s.Accepted != perRegion[s.RegionCode] || timeline != s.Accepted || ages != s.Accepted {
			t.Errorf("snapshot %s: accepted %d, timeline sum %d, age band sum %d; want all %d", key, s.Accepted, timeline, ages, perRegion[s.RegionCode])
		}
		for _, c := range s.Candidates {
			fromSnapshots[key+"/"+c.CandidateID] = c.Votes
		}
	}
	if !maps.Equal(fromSnapshots, ledger) {
		t.Errorf("snapshot candidate counts = %v, want the ledger's %v", fromSnapshots, ledger)
	}
	if s := publisher.last[vote.TallyKey(e.ID, "R1")]; s.RegionName != "North" || s.RegisteredVoters != 400 {
		t.Errorf("snapshot of R1 has region name %q and registered voters %d, want North and 400", s.RegionName, s.RegisteredVoters)
	}
	if s := publisher.last[vote.TallyKey(e.ID, "R3")]; s.RegisteredVoters != -1 {
		t.Errorf("snapshot of R3 has registered voters %d, want -1 (not published)", s.RegisteredVoters)
	}
}

func TestMessagesFromEventDecodesBase64(t *testing.T) {
	value := []byte(`{"vote_id":"x"}`)
	event := events.KafkaEvent{Records: map[string][]events.KafkaRecord{
		"votes_topic-1": {
			{Topic: "votes_topic", Partition: 1, Offset: 9, Key: base64.StdEncoding.EncodeToString([]byte("7")), Value: base64.StdEncoding.EncodeToString(value)},
			{Topic: "votes_topic", Partition: 1, Offset: 8, Key: base64.StdEncoding.EncodeToString([]byte("7")), Value: base64.StdEncoding.EncodeToString(value)},
		},
	}}
	msgs, err := MessagesFromEvent(event)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].Offset != 8 || string(msgs[1].Value) != string(value) || string(msgs[0].Key) != "7" {
		t.Errorf("MessagesFromEvent = %+v, want offsets 8 and 9 with the decoded key and value", msgs)
	}

	event.Records["votes_topic-1"][0].Value = "not base64!"
	if _, err := MessagesFromEvent(event); err == nil {
		t.Error("MessagesFromEvent accepted a value that is not base64")
	}
}

// TestRunLocalWithFaults replays an election with every fault through an
// embedded Kafka broker and checks that the ledger equals the official
// results and counts each fault by reason.
func TestRunLocalWithFaults(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pool, e := loadElection(t)

	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	client, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(cluster.ListenAddrs()...)}, simulate.ProducerOpts()...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if err := broker.EnsureTopics(ctx, client, broker.StandardTopics(4)); err != nil {
		t.Fatal(err)
	}

	faults := simulate.Faults{DoubleVoteRate: 0.1, RedeliveryRate: 0.1, UnknownVoterRate: 0.05, UnknownCandidateRate: 0.05, MalformedRate: 0.05}
	replay, err := simulate.Run(ctx, simulate.Config{Election: e, Day: testDay, Seed: 7, Client: client, Faults: faults})
	if err != nil {
		t.Fatalf("simulate.Run: %v", err)
	}

	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- RunLocal(runCtx, LocalConfig{Brokers: cluster.ListenAddrs(), Pool: pool, MaxPollRecords: 50})
	}()
	for {
		lag, err := broker.GroupLag(ctx, client, DefaultGroup, vote.VotesTopic)
		if err == nil && lag == 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("tally consumer did not catch up: lag %d, err %v", lag, err)
		case err := <-done:
			t.Fatalf("RunLocal stopped early: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("RunLocal: %v", err)
	}

	counts, rejected, err := Totals(ctx, pool, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, c := range counts {
		got[c.RegionCode+"/"+c.Candidate] = c.Votes
	}
	want := map[string]int64{}
	for _, r := range e.Results {
		if r.Votes > 0 {
			want[r.RegionCode+"/"+r.Candidate] = r.Votes
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("ledger = %v, want the official results %v", got, want)
	}
	if !maps.Equal(rejected, replay.Faults.ExpectedRejected()) {
		t.Errorf("rejected = %v, want %v from the injected faults %+v", rejected, replay.Faults.ExpectedRejected(), replay.Faults)
	}
	if replay.Faults.DoubleVotes == 0 || replay.Faults.Redeliveries == 0 || replay.Faults.Malformed == 0 {
		t.Errorf("faults = %+v, want every kind at least once", replay.Faults)
	}
	redelivered, err := Redeliveries(ctx, pool, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if redelivered != replay.Faults.Redeliveries {
		t.Errorf("Redeliveries = %d, want %d", redelivered, replay.Faults.Redeliveries)
	}

	// The compacted topic holds a snapshot per region whose counts equal the ledger.
	reader, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.ConsumeTopics(vote.AggregatesTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	end, err := broker.EndOffsets(ctx, client, vote.AggregatesTopic)
	if err != nil {
		t.Fatal(err)
	}
	last := map[string]vote.TallySnapshot{}
	for read := int64(0); read < end; {
		fetches := reader.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d snapshots: %v", read, end, err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			read++
			var s vote.TallySnapshot
			if err := json.Unmarshal(r.Value, &s); err != nil {
				t.Errorf("snapshot %s: %v", r.Key, err)
			}
			last[string(r.Key)] = s
		})
	}
	fromSnapshots := map[string]int64{}
	var snapshotRejects int64
	for _, s := range last {
		for _, c := range s.Candidates {
			fromSnapshots[s.RegionCode+"/"+c.Name] = c.Votes
		}
		for _, n := range s.Rejected {
			snapshotRejects += n
		}
	}
	if !maps.Equal(fromSnapshots, want) {
		t.Errorf("snapshots = %v, want %v", fromSnapshots, want)
	}
	var ledgerRejects int64
	for _, n := range rejected {
		ledgerRejects += n
	}
	if snapshotRejects != ledgerRejects {
		t.Errorf("snapshots count %d rejects, ledger %d", snapshotRejects, ledgerRejects)
	}
}

// TestApplyAfterConcurrentInsert runs Apply while another transaction, as
// a second consumer of the same partition would, has inserted ballots of the
// same voters and not yet committed. Apply's plain INSERT waits for it, fails
// with a unique violation, and falls back to ON CONFLICT DO NOTHING.
func TestApplyAfterConcurrentInsert(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, e := loadElection(t)
	x := e.Expand()
	at := testDay.Date.Add(10 * time.Hour)
	first := x.Ballot(0, 0, at)  // voter 1
	second := x.Ballot(0, 1, at) // voter 1 again, with another vote id
	shared := x.Ballot(5, 0, at) // voter 6, in both transactions

	other, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback(ctx)
	for i, b := range []vote.Vote{first, shared} {
		if _, err := other.Exec(ctx, `INSERT INTO votes (vote_id, election_id, voter_id, candidate_id, "timestamp", channel, kafka_partition, kafka_offset)
VALUES ($1, $2, $3, $4, $5, $6, 0, $7)`, b.VoteID, b.ElectionID, b.VoterID, b.CandidateID, at, b.Channel, 10+i); err != nil {
			t.Fatal(err)
		}
	}

	type outcome struct {
		result BatchResult
		err    error
	}
	applied := make(chan outcome, 1)
	go func() {
		result, err := NewLedger(pool, nil).Apply(ctx, []Message{ballotMessage(t, second, 0, 12), ballotMessage(t, shared, 0, 11)})
		applied <- outcome{result, err}
	}()

	// Commit the other transaction only once Apply waits for its row locks.
	for {
		var waiting int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		select {
		case o := <-applied:
			t.Fatalf("Apply returned %+v, %v before the other transaction committed", o.result, o.err)
		case <-ctx.Done():
			t.Fatal("Apply never waited for the other transaction")
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := other.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	o := <-applied
	if o.err != nil {
		t.Fatalf("Apply: %v", o.err)
	}
	if o.result.Accepted != 0 {
		t.Errorf("accepted = %d, want 0", o.result.Accepted)
	}
	if want := map[string]int{ReasonDuplicateVoter: 1}; !maps.Equal(o.result.Rejected, want) {
		t.Errorf("rejected = %v, want %v", o.result.Rejected, want)
	}
	if o.result.Replayed != 1 {
		t.Errorf("replayed = %d, want 1 for the ballot the other transaction inserted at the same offset", o.result.Replayed)
	}
	var votes, tallied int64
	if err := pool.QueryRow(ctx, `SELECT count(*), (SELECT coalesce(sum(votes), 0) FROM tally_candidates)::bigint FROM votes`).Scan(&votes, &tallied); err != nil {
		t.Fatal(err)
	}
	if votes != 2 || tallied != 0 {
		t.Errorf("votes has %d rows and the tallies count %d, want the other transaction's 2 rows and no tally from Apply", votes, tallied)
	}
}
