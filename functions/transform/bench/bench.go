package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/votestream/votestream"
	"github.com/votestream/votestream/firehose"
	"github.com/votestream/votestream/functions/transform"
	"github.com/votestream/votestream/infra/loader"
	"github.com/votestream/votestream/infra/migrations"
	"github.com/votestream/votestream/internal/election"
	"github.com/votestream/votestream/internal/pgcluster"
)

// Defaults of Config.
const (
	DefaultVotes = 200_000
	// DefaultBatch is about 1 MB of packed envelopes per invocation, the
	// default processor buffer of a Firehose stream (BufferSizeInMBs 1).
	DefaultBatch = 4_000
)

// votesStream is the delivery stream of sam-template.yaml whose record
// format conversion the Parquet stage uses.
const votesStream = "VotesDeliveryStream"

// Config configures Run.
type Config struct {
	// Votes is the size of the synthetic election: one registered voter and
	// one ballot per vote. Zero means DefaultVotes.
	Votes int

	// Batch is the number of ballots per invocation of the handler. An
	// invocation closes at the first record that reaches it, so it can hold
	// up to one record more. Zero means DefaultBatch.
	Batch int

	// DatabaseURL is the PostgreSQL to use. Run applies the migrations and
	// loads the election there, and leaves both in place. Empty starts a
	// throwaway cluster with pgcluster in a temporary directory and removes
	// it afterwards.
	DatabaseURL string

	// Progress receives one line per stage. Nil discards them.
	Progress io.Writer
}

// Result is the outcome of Run.
type Result struct {
	Machine Machine `json:"machine"`
	Votes   int     `json:"votes"`
	// Batch is Config.Batch, and Invocations and Records the workload's
	// shape after packing.
	Batch       int `json:"batch"`
	Invocations int `json:"invocations"`
	Records     int `json:"records"`
	// InputBytes is the size of all Firehose record data, before base64.
	InputBytes int64 `json:"input_bytes"`
	// LoadSeconds is the time to load the election into PostgreSQL, which
	// is zero when it was already loaded.
	LoadSeconds float64 `json:"load_seconds"`

	// BatchQueryCold is a new transform.Handler over every invocation, so
	// every voter is looked up, one query per invocation. BatchQueryWarm is a
	// second pass of the same Handler, whose cache then holds every voter.
	BatchQueryCold Rate `json:"batch_query_cold"`
	BatchQueryWarm Rate `json:"batch_query_warm"`
	// QueryPerVote is one SELECT per ballot on the same pool, without
	// the rest of the transform.
	QueryPerVote Rate `json:"query_per_vote"`

	Parquet ParquetRate `json:"parquet"`
}

// SetupError is a PostgreSQL that could not be started or reached, as
// opposed to a stage that failed.
type SetupError struct{ Err error }

func (e *SetupError) Error() string { return e.Err.Error() }
func (e *SetupError) Unwrap() error { return e.Err }

// Run loads a synthetic election and measures the transform stages on it.
// It returns an error when a stage fails or when a record does not come back
// Ok, because every ballot of the election has a voter and a candidate.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Votes == 0 {
		cfg.Votes = DefaultVotes
	}
	if cfg.Batch == 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.Votes < 0 || cfg.Batch < 0 {
		return Result{}, fmt.Errorf("votes %d or batch %d is invalid: set both to 1 or more", cfg.Votes, cfg.Batch)
	}
	progress := cfg.Progress
	if progress == nil {
		progress = io.Discard
	}
	result := Result{Votes: cfg.Votes, Batch: cfg.Batch}

	tmpl, err := firehose.ParseTemplate(votestream.SAMTemplate)
	if err != nil {
		return result, fmt.Errorf("read the embedded SAM template: %w", err)
	}
	stream, ok := tmpl.Stream(votesStream)
	if !ok || stream.Conversion == nil {
		return result, fmt.Errorf("the embedded SAM template has no stream %s with record format conversion", votesStream)
	}

	dir, err := os.MkdirTemp("", "votestream-bench-")
	if err != nil {
		return result, err
	}
	defer os.RemoveAll(dir)
	// PostgreSQL runs as an unprivileged user when this process is root,
	// and that user must be able to enter the directory.
	if err := os.Chmod(dir, 0o755); err != nil {
		return result, err
	}

	databaseURL := cfg.DatabaseURL
	if databaseURL == "" {
		fmt.Fprintf(progress, "starting PostgreSQL in %s\n", dir)
		cluster, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dir})
		if err != nil {
			return result, &SetupError{Err: err}
		}
		defer func() {
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
			defer cancel()
			if err := cluster.Stop(stopCtx); err != nil {
				fmt.Fprintf(progress, "stop PostgreSQL: %v\n", err)
			}
		}()
		databaseURL = cluster.URL()
	}

	// One connection is enough: every stage runs one query at a time.
	pool, err := transform.NewPool(ctx, databaseURL, 1)
	if err != nil {
		return result, err
	}
	defer pool.Close()
	if result.Machine, err = describeMachine(ctx, pool); err != nil {
		return result, &SetupError{Err: err}
	}

	path, err := writeSyntheticElection(dir, cfg.Votes)
	if err != nil {
		return result, err
	}
	e, err := election.Load(path)
	if err != nil {
		return result, err
	}
	day, err := election.DefaultDay(path)
	if err != nil {
		return result, err
	}
	if _, err := migrations.Apply(ctx, pool); err != nil {
		return result, fmt.Errorf("apply migrations: %w", err)
	}
	fmt.Fprintf(progress, "loading election %s: %d voters\n", e.ID, cfg.Votes)
	stats, err := loader.Load(ctx, pool, e, day, nil)
	if err != nil {
		return result, fmt.Errorf("load election %s: %w", e.ID, err)
	}
	if stats.VotersCopied > 0 {
		result.LoadSeconds = stats.Elapsed.Seconds()
	}

	w, err := buildWorkload(e, day, cfg.Batch)
	if err != nil {
		return result, err
	}
	result.Invocations = len(w.invocations)
	for _, inv := range w.invocations {
		result.Records += len(inv.Records)
	}
	result.InputBytes = w.inputBytes

	return result, measure(ctx, pool, stream.Conversion, w, &result, progress)
}

// measure runs the timed stages in a fixed order: the per-ballot loop runs
// after both handler passes, so that it finds the same warm PostgreSQL
// buffer cache as the warm pass.
func measure(ctx context.Context, pool *pgxpool.Pool, conversion *firehose.Conversion, w *workload, result *Result, progress io.Writer) error {
	handler, err := transform.New(transform.Config{
		Pool:           pool,
		VoterKeySecret: []byte("votestream bench transform voter key, 32+ bytes"),
		CacheSize:      len(w.ballots),
		Logger:         slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return err
	}

	fmt.Fprintf(progress, "transform, cold cache: %d invocations of about %d ballots\n", len(w.invocations), result.Batch)
	cold, err := runHandler(ctx, handler, w)
	if err != nil {
		return fmt.Errorf("cold pass: %w", err)
	}
	result.BatchQueryCold = cold.rate

	fmt.Fprintln(progress, "transform, warm cache: the same handler again")
	warm, err := runHandler(ctx, handler, w)
	if err != nil {
		return fmt.Errorf("warm pass: %w", err)
	}
	result.BatchQueryWarm = warm.rate

	fmt.Fprintf(progress, "one query per ballot: %d queries\n", len(w.ballots))
	if result.QueryPerVote, err = runPerBallotQueries(ctx, pool, w); err != nil {
		return err
	}

	fmt.Fprintln(progress, "Parquet conversion of the transform's output")
	if result.Parquet, err = runParquet(conversion, cold.responses); err != nil {
		return err
	}
	if result.Parquet.Rows != len(w.ballots) {
		return fmt.Errorf("the transform returned %d rows for %d ballots", result.Parquet.Rows, len(w.ballots))
	}
	return nil
}
