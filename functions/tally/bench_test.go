package tally

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

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

// Shape of the benchmark election: as many regions and candidates per region
// as the UK 2024 general election (650 constituencies, 4,515 rows), so that a
// batch touches as many regions, and publishes as many snapshots, as in the
// UK demo.
const (
	benchRegions    = 650
	benchCandidates = 7
	benchPartitions = 8
)

// BenchmarkLedgerDrain measures how fast RunLocal drains votes_topic into the
// ledger. Each iteration loads a fresh database with one registered voter per
// ballot and replays VOTESTREAM_BENCH_BALLOTS ballots (default 200,000) to an
// in-process kfake broker with 8 partitions, 1% double votes and 1%
// redeliveries. It times RunLocal from its start until the consumer group
// has committed past the last record. Setup and the check of the ledger
// against the official results are not timed. Run it with -benchtime=1x.
// VOTESTREAM_BENCH_WORKERS and VOTESTREAM_BENCH_MAX_POLL_RECORDS set
// LocalConfig.Workers and MaxPollRecords.
//
// The ledger's indexes of a short run fit in PostgreSQL's shared buffers,
// which those of a national replay do not, so the figure is an upper bound
// for the start of a long drain.
func BenchmarkLedgerDrain(b *testing.B) {
	ballots := benchSetting(b, "VOTESTREAM_BENCH_BALLOTS", 200_000, benchRegions*benchCandidates)
	cfg := LocalConfig{
		Workers:        int(benchSetting(b, "VOTESTREAM_BENCH_WORKERS", DefaultWorkers, 1)),
		MaxPollRecords: int(benchSetting(b, "VOTESTREAM_BENCH_MAX_POLL_RECORDS", DefaultMaxPollRecords, 1)),
	}
	e := writeElection(b, benchRegions, benchCandidates, ballots)
	faults := simulate.Faults{DoubleVoteRate: 0.01, RedeliveryRate: 0.01}

	b.StopTimer()
	for range b.N {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		pool := loadElectionInto(b, ctx, e)
		cluster, client := startBroker(b, ctx, benchPartitions)
		replay, err := simulate.Run(ctx, simulate.Config{Election: e, Day: testDay, Seed: 11, Client: client, Faults: faults})
		if err != nil {
			b.Fatalf("simulate.Run: %v", err)
		}
		records, err := broker.EndOffsets(ctx, client, vote.VotesTopic)
		if err != nil {
			b.Fatal(err)
		}

		b.StartTimer()
		started := time.Now()
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			cfg := cfg
			cfg.Brokers, cfg.Pool = cluster.ListenAddrs(), pool
			done <- RunLocal(runCtx, cfg)
		}()
		waitForLag(b, ctx, client, done)
		elapsed := time.Since(started)
		b.StopTimer()

		stop()
		if err := <-done; err != nil {
			b.Errorf("RunLocal: %v", err)
		}
		checkLedger(b, ctx, pool, e, replay.Faults)
		b.ReportMetric(float64(ballots)/elapsed.Seconds(), "ballots/s")
		b.ReportMetric(float64(records)/elapsed.Seconds(), "records/s")
		b.ReportMetric(elapsed.Seconds(), "drain-s")

		client.Close()
		cluster.Close()
		pool.Close()
		cancel()
	}
}

// benchSetting returns the integer in the environment variable name, or def
// when it is unset.
func benchSetting(b *testing.B, name string, def, minimum int64) int64 {
	b.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < minimum {
		b.Fatalf("%s=%q: want an integer of at least %d", name, s, minimum)
	}
	return n
}

// writeElection writes an election with regions regions of candidates
// candidates each and ballots votes in all, spread evenly over the rows.
func writeElection(tb testing.TB, regions, candidates int, ballots int64) *election.Election {
	tb.Helper()
	var results strings.Builder
	results.WriteString("region_code,region_name,candidate,party,votes\n")
	rows := int64(regions * candidates)
	for row := range rows {
		votes := ballots / rows
		if row < ballots%rows {
			votes++
		}
		region, candidate := row/int64(candidates), row%int64(candidates)
		fmt.Fprintf(&results, "R%03d,Region %d,Candidate %d,Party %d,%d\n", region, region, candidate, candidate, votes)
	}
	path := filepath.Join(tb.TempDir(), "bench-2024.csv")
	if err := os.WriteFile(path, []byte(results.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	e, err := election.Load(path)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// loadElectionInto migrates a fresh database and loads e with one
// registered voter per ballot.
func loadElectionInto(tb testing.TB, ctx context.Context, e *election.Election) *pgxpool.Pool {
	tb.Helper()
	pool, err := pgxpool.New(ctx, pgtest.URL(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	if _, err := migrations.Apply(ctx, pool); err != nil {
		tb.Fatalf("migrations.Apply: %v", err)
	}
	if _, err := loader.Load(ctx, pool, e, testDay, nil); err != nil {
		tb.Fatalf("loader.Load: %v", err)
	}
	return pool
}

// startBroker starts a kfake broker with the standard topics and
// votes_topic in partitions partitions, and a producer client.
func startBroker(tb testing.TB, ctx context.Context, partitions int32) (*kfake.Cluster, *kgo.Client) {
	tb.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(cluster.Close)
	client, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(cluster.ListenAddrs()...)}, simulate.ProducerOpts()...)...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(client.Close)
	if err := broker.EnsureTopics(ctx, client, broker.StandardTopics(partitions)); err != nil {
		tb.Fatal(err)
	}
	return cluster, client
}

// waitForLag returns once the tally group has committed past every record of
// votes_topic, and fails if RunLocal stops or ctx ends first.
func waitForLag(tb testing.TB, ctx context.Context, client *kgo.Client, done <-chan error) {
	tb.Helper()
	for {
		lag, err := broker.GroupLag(ctx, client, DefaultGroup, vote.VotesTopic)
		if err == nil && lag == 0 {
			return
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("tally consumer did not catch up: lag %d, err %v", lag, err)
		case err := <-done:
			tb.Fatalf("RunLocal stopped early: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// checkLedger compares the ledger with the official results and the
// rejects with the injected faults.
func checkLedger(tb testing.TB, ctx context.Context, pool *pgxpool.Pool, e *election.Election, faults simulate.FaultCounts) {
	tb.Helper()
	counts, rejected, err := Totals(ctx, pool, e.ID)
	if err != nil {
		tb.Fatal(err)
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
		tb.Errorf("ledger has %d region/candidate rows that differ from the official results", countDifferences(got, want))
	}
	if !maps.Equal(rejected, faults.ExpectedRejected()) {
		tb.Errorf("rejected = %v, want %v from the injected faults %+v", rejected, faults.ExpectedRejected(), faults)
	}
	redelivered, err := Redeliveries(ctx, pool, e.ID)
	if err != nil {
		tb.Fatal(err)
	}
	if redelivered != faults.Redeliveries {
		tb.Errorf("Redeliveries = %d, want %d", redelivered, faults.Redeliveries)
	}
}

func countDifferences(got, want map[string]int64) int {
	n := 0
	for k, v := range want {
		if got[k] != v {
			n++
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			n++
		}
	}
	return n
}
