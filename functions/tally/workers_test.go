package tally

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/votestream/votestream/internal/broker"
	"github.com/votestream/votestream/internal/election"
	"github.com/votestream/votestream/internal/simulate"
	"github.com/votestream/votestream/internal/vote"
)

// drainFixture is an election loaded into a fresh database and replayed,
// with every kind of fault, to votes_topic of an embedded broker.
type drainFixture struct {
	pool    *pgxpool.Pool
	e       *election.Election
	cluster *kfake.Cluster
	client  *kgo.Client
	faults  simulate.FaultCounts
	// ends maps each partition of votes_topic to its end offset.
	ends map[int32]int64
}

// newDrainFixture replays 6,000 ballots over 40 regions to partitions
// partitions. One ballot in ten has a second ballot of its voter, and one in
// ten is produced twice, so that many voters have several records in one
// partition, which small polls spread over batches.
func newDrainFixture(t *testing.T, ctx context.Context, partitions int32) *drainFixture {
	t.Helper()
	e := writeElection(t, 40, 3, 6000)
	f := &drainFixture{e: e, pool: loadElectionInto(t, ctx, e)}
	f.cluster, f.client = startBroker(t, ctx, partitions)

	faults := simulate.Faults{DoubleVoteRate: 0.1, RedeliveryRate: 0.1, UnknownVoterRate: 0.02, UnknownCandidateRate: 0.03, MalformedRate: 0.02}
	replay, err := simulate.Run(ctx, simulate.Config{Election: e, Day: testDay, Seed: 5, Client: f.client, Faults: faults})
	if err != nil {
		t.Fatalf("simulate.Run: %v", err)
	}
	f.faults = replay.Faults

	ends, err := kadm.NewClient(f.client).ListEndOffsets(ctx, vote.VotesTopic)
	if err != nil {
		t.Fatal(err)
	}
	f.ends = map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { f.ends[o.Partition] = o.Offset })
	return f
}

// start runs RunLocal with cfg. The returned channel is closed when RunLocal
// returns; stop ends it and fails the test if it returned an error.
func (f *drainFixture) start(t *testing.T, ctx context.Context, cfg LocalConfig) (finished <-chan struct{}, stop func()) {
	t.Helper()
	cfg.Brokers, cfg.Pool = f.cluster.ListenAddrs(), f.pool
	cfg.RetryBackoff = cmp.Or(cfg.RetryBackoff, 10*time.Millisecond)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	var runErr error
	go func() {
		defer close(done)
		runErr = RunLocal(runCtx, cfg)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
			if runErr != nil {
				t.Errorf("RunLocal: %v", runErr)
			}
		})
	}
	t.Cleanup(stop)
	return done, stop
}

// waitForLagBelow waits until the group lags by fewer than limit records.
func (f *drainFixture) waitForLagBelow(t *testing.T, ctx context.Context, limit int64, finished <-chan struct{}) {
	t.Helper()
	for {
		lag, err := broker.GroupLag(ctx, f.client, DefaultGroup, vote.VotesTopic)
		if err == nil && lag < limit {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("tally group still lags by %d records, want fewer than %d (err %v)", lag, limit, err)
		case <-finished:
			t.Fatal("RunLocal returned before the group caught up")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// committed returns the committed offset of each partition of votes_topic
// that the tally group has committed.
func (f *drainFixture) committed(t *testing.T, ctx context.Context) map[int32]int64 {
	t.Helper()
	offsets, err := kadm.NewClient(f.client).FetchOffsets(ctx, DefaultGroup)
	if err != nil {
		t.Fatal(err)
	}
	committed := map[int32]int64{}
	for p := range f.ends {
		if o, ok := offsets.Lookup(vote.VotesTopic, p); ok && o.Err == nil && o.At >= 0 {
			committed[p] = o.At
		}
	}
	return committed
}

// stored returns, per partition and offset, how many rows of votes,
// rejected_votes and redelivered_votes record that record. Each record of
// votes_topic that the ledger applied is in exactly one of them.
func (f *drainFixture) stored(t *testing.T, ctx context.Context) map[int32]map[int64]int {
	t.Helper()
	rows, err := f.pool.Query(ctx, `SELECT kafka_partition, kafka_offset FROM votes
UNION ALL SELECT kafka_partition, kafka_offset FROM rejected_votes
UNION ALL SELECT kafka_partition, kafka_offset FROM redelivered_votes`)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[int32]map[int64]int{}
	var partition int32
	var offset int64
	if _, err := pgx.ForEachRow(rows, []any{&partition, &offset}, func() error {
		if stored[partition] == nil {
			stored[partition] = map[int64]int{}
		}
		stored[partition][offset]++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return stored
}

// checkCommittedDurable checks that every record below a partition's
// committed offset is in the ledger, and none twice.
func (f *drainFixture) checkCommittedDurable(t *testing.T, ctx context.Context) {
	t.Helper()
	stored := f.stored(t, ctx)
	for p, at := range f.committed(t, ctx) {
		var missing []int64
		for offset := range at {
			if stored[p][offset] == 0 {
				missing = append(missing, offset)
			}
		}
		if len(missing) > 0 {
			t.Errorf("partition %d is committed at %d, but the ledger lacks %d records below it, the first at offset %d", p, at, len(missing), missing[0])
		}
	}
	for p, offsets := range stored {
		for offset, n := range offsets {
			if n > 1 {
				t.Errorf("partition %d offset %d is stored %d times", p, offset, n)
			}
		}
	}
}

// checkDrained checks that the group committed every partition to its end,
// that the ledger holds each record once, and that ledger and tallies equal
// the official results and the injected faults.
func (f *drainFixture) checkDrained(t *testing.T, ctx context.Context) {
	t.Helper()
	if committed := f.committed(t, ctx); !maps.Equal(committed, f.ends) {
		t.Errorf("committed offsets = %v, want the end offsets %v", committed, f.ends)
	}
	f.checkCommittedDurable(t, ctx)
	stored := f.stored(t, ctx)
	for p, end := range f.ends {
		if got := int64(len(stored[p])); got != end {
			t.Errorf("ledger stores %d records of partition %d, want %d", got, p, end)
		}
	}
	checkLedger(t, ctx, f.pool, f.e, f.faults)
	checkTallies(t, ctx, f.pool, f.e.ID)
}

// checkTallies compares the running tallies with a count of the ledger.
func checkTallies(t *testing.T, ctx context.Context, pool *pgxpool.Pool, electionID string) {
	t.Helper()
	counts, rejected, err := Totals(ctx, pool, electionID)
	if err != nil {
		t.Fatal(err)
	}
	fromLedger := map[string]int64{}
	perRegion := map[string]int64{}
	for _, c := range counts {
		fromLedger[c.RegionCode+"/"+c.CandidateID] = c.Votes
		perRegion[c.RegionCode] += c.Votes
	}

	tallies := map[string]int64{}
	rows, err := pool.Query(ctx, `SELECT region_code, candidate_id, votes FROM tally_candidates WHERE election_id = $1`, electionID)
	if err != nil {
		t.Fatal(err)
	}
	var region, candidate string
	var n int64
	if _, err := pgx.ForEachRow(rows, []any{&region, &candidate, &n}, func() error {
		tallies[region+"/"+candidate] = n
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(tallies, fromLedger) {
		t.Errorf("tally_candidates = %v, want the ledger's %v", tallies, fromLedger)
	}

	regionTallies := map[string]int64{}
	rows, err = pool.Query(ctx, `SELECT region_code, accepted FROM tally_regions WHERE election_id = $1`, electionID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pgx.ForEachRow(rows, []any{&region, &n}, func() error {
		regionTallies[region] = n
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(regionTallies, perRegion) {
		t.Errorf("tally_regions = %v, want the ledger's %v", regionTallies, perRegion)
	}

	rejectTallies := map[string]int64{}
	rows, err = pool.Query(ctx, `SELECT reason, sum(ballots)::bigint FROM tally_rejected WHERE election_id = $1 GROUP BY reason`, electionID)
	if err != nil {
		t.Fatal(err)
	}
	var reason string
	if _, err := pgx.ForEachRow(rows, []any{&reason, &n}, func() error {
		rejectTallies[reason] = n
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(rejectTallies, rejected) {
		t.Errorf("tally_rejected = %v, want the ledger's %v", rejectTallies, rejected)
	}
}

// failInserts makes inserts into votes of records of partition fail with
// SQLSTATE code: the first times attempts fail, or all when times is
// negative. A sequence counts the attempts, because it is not rolled back
// with the failed transaction.
func failInserts(t *testing.T, ctx context.Context, pool *pgxpool.Pool, partition int32, times int, code string) (attempts func() int64) {
	t.Helper()
	name := fmt.Sprintf("fail_partition_%d", partition)
	condition := fmt.Sprintf("nextval('%s') <= %d", name, times)
	if times < 0 {
		condition = fmt.Sprintf("nextval('%s') > 0", name)
	}
	sql := fmt.Sprintf(`CREATE SEQUENCE %[1]s;
CREATE FUNCTION %[1]s() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.kafka_partition = %[2]d THEN
    IF %[3]s THEN
      RAISE EXCEPTION 'injected failure of partition %[2]d' USING ERRCODE = '%[4]s';
    END IF;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER %[1]s BEFORE INSERT ON votes FOR EACH ROW EXECUTE FUNCTION %[1]s();`, name, partition, condition, code)
	if _, err := pool.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatalf("install failing trigger: %v", err)
	}
	return func() int64 {
		var n int64
		if err := pool.QueryRow(ctx, fmt.Sprintf("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM %s", name)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
}

// slowInserts makes each INSERT statement into votes take at least d, so
// that a drain lasts long enough to stop it or rebalance it midway.
func slowInserts(t *testing.T, ctx context.Context, pool *pgxpool.Pool, d time.Duration) {
	t.Helper()
	sql := fmt.Sprintf(`CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_sleep(%f);
  RETURN NULL;
END $$;
CREATE TRIGGER slow_insert AFTER INSERT ON votes FOR EACH STATEMENT EXECUTE FUNCTION slow_insert();`, d.Seconds())
	if _, err := pool.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatalf("install slow trigger: %v", err)
	}
}

func TestRunLocalManyPartitions(t *testing.T) {
	for _, tc := range []struct {
		name           string
		workers        int
		maxPollRecords int
		maxConns       int32
	}{
		{"one worker", 1, 37, 4},
		{"workers", 4, 37, 4},
		{"workers waiting for connections", 6, 200, 2},
		{"large polls", 4, 5000, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			f := newDrainFixture(t, ctx, 16)
			pool, err := pgxpool.NewWithConfig(ctx, poolConfig(t, f.pool, tc.maxConns))
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			f.pool = pool

			done, stop := f.start(t, ctx, LocalConfig{Workers: tc.workers, MaxPollRecords: tc.maxPollRecords})
			f.waitForLagBelow(t, ctx, 1, done)
			stop()
			f.checkDrained(t, ctx)
		})
	}
}

// poolConfig returns the configuration of pool with at most maxConns
// connections.
func poolConfig(t *testing.T, pool *pgxpool.Pool, maxConns int32) *pgxpool.Config {
	t.Helper()
	cfg := pool.Config()
	cfg.MaxConns = maxConns
	return cfg
}

func TestRunLocalRetriesFailedWorker(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	f := newDrainFixture(t, ctx, 8)
	// Apply retries a deadlock at once; RunLocal retries other errors after
	// RetryBackoff.
	deadlocks := failInserts(t, ctx, f.pool, 3, 2, "40P01")
	failures := failInserts(t, ctx, f.pool, 5, 3, "P0001")

	done, stop := f.start(t, ctx, LocalConfig{Workers: 4, MaxPollRecords: 400})
	f.waitForLagBelow(t, ctx, 1, done)
	stop()

	if n := deadlocks(); n <= 2 {
		t.Errorf("inserts of partition 3 ran %d times, want more than the 2 that fail", n)
	}
	if n := failures(); n <= 3 {
		t.Errorf("inserts of partition 5 ran %d times, want more than the 3 that fail", n)
	}
	f.checkDrained(t, ctx)
}

func TestRunLocalStopCommitsOnlyAppliedPartitions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	f := newDrainFixture(t, ctx, 8)
	failInserts(t, ctx, f.pool, 2, -1, "P0001")

	// Partition 2 never applies, so RunLocal retries its group until the
	// stop, and only then commits the groups of the same poll that applied.
	done, stop := f.start(t, ctx, LocalConfig{Workers: 8, MaxPollRecords: 100_000})
	for len(f.stored(t, ctx)) < len(f.ends)-1 {
		select {
		case <-ctx.Done():
			t.Fatalf("ledger stores records of %d partitions, want all but partition 2", len(f.stored(t, ctx)))
		case <-done:
			t.Fatal("RunLocal returned before the stop")
		case <-time.After(20 * time.Millisecond):
		}
	}
	stop()

	committed := f.committed(t, ctx)
	if at, ok := committed[2]; ok && at > 0 {
		t.Errorf("partition 2 is committed at %d although none of its records applied", at)
	}
	if len(committed) == 0 {
		t.Error("no partition was committed at the stop, want those whose transaction committed")
	}
	f.checkCommittedDurable(t, ctx)

	if _, err := f.pool.Exec(ctx, "DROP TRIGGER fail_partition_2 ON votes"); err != nil {
		t.Fatal(err)
	}
	done, stop = f.start(t, ctx, LocalConfig{Workers: 8, MaxPollRecords: 100_000})
	f.waitForLagBelow(t, ctx, 1, done)
	stop()
	f.checkDrained(t, ctx)
}

func TestRunLocalRebalanceAndStopMidDrain(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	f := newDrainFixture(t, ctx, 12)
	slowInserts(t, ctx, f.pool, 40*time.Millisecond)
	var total int64
	for _, end := range f.ends {
		total += end
	}
	cfg := LocalConfig{Workers: 3, MaxPollRecords: 150}

	// The first member drains alone, a second joins, the first stops and a
	// third member replaces it, each change while records remain.
	firstDone, stopFirst := f.start(t, ctx, cfg)
	f.waitForLagBelow(t, ctx, total*9/10, firstDone)
	secondDone, stopSecond := f.start(t, ctx, cfg)
	f.waitForLagBelow(t, ctx, total*6/10, secondDone)
	stopFirst()
	f.checkCommittedDurable(t, ctx)
	f.waitForLagBelow(t, ctx, total*4/10, secondDone)
	thirdDone, stopThird := f.start(t, ctx, cfg)
	f.waitForLagBelow(t, ctx, 1, thirdDone)
	stopSecond()
	stopThird()

	f.checkDrained(t, ctx)
}
