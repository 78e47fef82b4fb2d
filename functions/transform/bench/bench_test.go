package bench

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/votestream/votestream"
	"github.com/votestream/votestream/firehose"
	"github.com/votestream/votestream/functions/transform"
	"github.com/votestream/votestream/infra/loader"
	"github.com/votestream/votestream/infra/migrations"
	"github.com/votestream/votestream/internal/election"
	"github.com/votestream/votestream/internal/pgcluster/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

// benchVotes keeps the Benchmark functions' setup to a few seconds.
const benchVotes = 20_000

// setup loads a synthetic election of votes ballots into a fresh database
// and returns a pool on it and the workload.
func setup(t testing.TB, votes, batch int) (*pgxpool.Pool, *workload) {
	t.Helper()
	ctx := context.Background()
	pool, err := transform.NewPool(ctx, pgtest.URL(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := migrations.Apply(ctx, pool); err != nil {
		t.Fatal(err)
	}

	path, err := writeSyntheticElection(t.TempDir(), votes)
	if err != nil {
		t.Fatal(err)
	}
	e, err := election.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	day, err := election.DefaultDay(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := loader.Load(ctx, pool, e, day, nil); err != nil {
		t.Fatal(err)
	}
	w, err := buildWorkload(e, day, batch)
	if err != nil {
		t.Fatal(err)
	}
	return pool, w
}

func newHandler(t testing.TB, pool *pgxpool.Pool, cacheSize int) *transform.Handler {
	t.Helper()
	h, err := transform.New(transform.Config{Pool: pool, VoterKeySecret: []byte("bench test voter key of 32 bytes or more"), CacheSize: cacheSize})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func votesConversion(t testing.TB) *firehose.Conversion {
	t.Helper()
	tmpl, err := firehose.ParseTemplate(votestream.SAMTemplate)
	if err != nil {
		t.Fatal(err)
	}
	stream, ok := tmpl.Stream(votesStream)
	if !ok || stream.Conversion == nil {
		t.Fatalf("template has no stream %s with conversion", votesStream)
	}
	return stream.Conversion
}

func TestWorkloadShape(t *testing.T) {
	const votes, batch = 3_001, 500
	path, err := writeSyntheticElection(t.TempDir(), votes)
	if err != nil {
		t.Fatal(err)
	}
	e, err := election.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.TotalVotes(); got != votes {
		t.Fatalf("TotalVotes = %d, want %d", got, votes)
	}
	day, err := election.DefaultDay(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := buildWorkload(e, day, batch)
	if err != nil {
		t.Fatal(err)
	}

	if len(w.ballots) != votes {
		t.Errorf("ballots = %d, want %d", len(w.ballots), votes)
	}
	voters := make(map[string]bool)
	lines := 0
	for i, inv := range w.invocations {
		ids := make(map[string]bool)
		for _, r := range inv.Records {
			if ids[r.RecordID] {
				t.Errorf("invocation %d repeats recordId %s", i, r.RecordID)
			}
			ids[r.RecordID] = true
			if len(r.Data) > 1000*1024 {
				t.Errorf("invocation %d record %s has %d bytes, over the Firehose record limit", i, r.RecordID, len(r.Data))
			}
			lines += bytes.Count(r.Data, []byte("\n"))
		}
	}
	if lines != votes {
		t.Errorf("envelope lines = %d, want %d", lines, votes)
	}
	for _, v := range w.ballots {
		voters[v.VoterID] = true
	}
	if len(voters) != votes {
		t.Errorf("distinct voters = %d, want %d (one ballot per voter)", len(voters), votes)
	}
	if len(w.invocations) < votes/batch/2 || len(w.invocations) > votes/batch+1 {
		t.Errorf("invocations = %d, want about %d of %d ballots", len(w.invocations), votes/batch, batch)
	}
}

func TestRunSmallElection(t *testing.T) {
	const votes, batch = 2_000, 300
	result, err := Run(context.Background(), Config{Votes: votes, Batch: batch, DatabaseURL: pgtest.URL(t)})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}

	rates := map[string]Rate{
		"batch_query_cold": result.BatchQueryCold,
		"batch_query_warm": result.BatchQueryWarm,
		"query_per_vote":   result.QueryPerVote,
	}
	for name, r := range rates {
		if r.Votes != votes {
			t.Errorf("%s votes = %d, want %d", name, r.Votes, votes)
		}
		if r.Seconds <= 0 || r.VotesPerSecond <= 0 {
			t.Errorf("%s = %+v, want a positive time and rate", name, r)
		}
	}
	if result.Parquet.Rows != votes {
		t.Errorf("Parquet rows = %d, want %d", result.Parquet.Rows, votes)
	}
	if result.Parquet.OutputBytes == 0 || result.Parquet.Files != 1 {
		t.Errorf("Parquet = %+v, want one non-empty file", result.Parquet)
	}
	if result.Machine.PostgreSQL == "" || result.Machine.NumCPU == 0 {
		t.Errorf("Machine = %+v, want the CPU count and PostgreSQL version", result.Machine)
	}
}

func TestTransformOutputAllAccepted(t *testing.T) {
	pool, w := setup(t, 1_000, 200)
	pass, err := runHandler(context.Background(), newHandler(t, pool, 0), w)
	if err != nil {
		t.Fatal(err)
	}
	var rows, accepted int
	for _, r := range pass.responses {
		rows += bytes.Count(r.Data, []byte("\n"))
		accepted += bytes.Count(r.Data, []byte(`"status":"accepted"`))
	}
	if rows != len(w.ballots) {
		t.Errorf("rows = %d, want %d", rows, len(w.ballots))
	}
	if accepted != rows {
		t.Errorf("accepted rows = %d of %d: every synthetic ballot has a voter and a candidate", accepted, rows)
	}
}

func BenchmarkHandleColdCache(b *testing.B) {
	pool, w := setup(b, benchVotes, DefaultBatch)
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		h := newHandler(b, pool, len(w.ballots))
		b.StartTimer()
		if _, err := runHandler(context.Background(), h, w); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(w.ballots))*float64(b.N)/b.Elapsed().Seconds(), "votes/s")
}

func BenchmarkHandleWarmCache(b *testing.B) {
	pool, w := setup(b, benchVotes, DefaultBatch)
	h := newHandler(b, pool, len(w.ballots))
	if _, err := runHandler(context.Background(), h, w); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := runHandler(context.Background(), h, w); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(w.ballots))*float64(b.N)/b.Elapsed().Seconds(), "votes/s")
}

func BenchmarkQueryPerVote(b *testing.B) {
	pool, w := setup(b, benchVotes, DefaultBatch)
	b.ResetTimer()
	for b.Loop() {
		if _, err := runPerBallotQueries(context.Background(), pool, w); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(w.ballots))*float64(b.N)/b.Elapsed().Seconds(), "votes/s")
}

func BenchmarkParquetConversion(b *testing.B) {
	pool, w := setup(b, benchVotes, DefaultBatch)
	pass, err := runHandler(context.Background(), newHandler(b, pool, 0), w)
	if err != nil {
		b.Fatal(err)
	}
	conversion := votesConversion(b)
	var input int64
	for _, r := range pass.responses {
		input += int64(len(r.Data))
	}
	b.SetBytes(input)
	b.ResetTimer()
	for b.Loop() {
		if _, err := runParquet(conversion, pass.responses); err != nil {
			b.Fatal(err)
		}
	}
}
