package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/votestream/votestream/functions/tally"
	"github.com/votestream/votestream/glue/lake"
	"github.com/votestream/votestream/glue/regions"
	"github.com/votestream/votestream/internal/broker"
	"github.com/votestream/votestream/internal/dashboard"
	"github.com/votestream/votestream/internal/election"
	"github.com/votestream/votestream/internal/simulate"
	"github.com/votestream/votestream/internal/vote"
)

// lagPollInterval is how often the demo checks whether the bridge has
// committed past every ballot.
const lagPollInterval = 250 * time.Millisecond

// Run starts the local stack in cfg.StateDir, replays the election through it,
// and compares the lake with the official results. It returns the summary
// also when they differ; the error is then nil and Summary.Matches is false.
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	cfg = withDefaults(cfg)
	log := cfg.Logger
	if err := os.MkdirAll(cfg.StateDir, 0o755); err != nil {
		return nil, setupErr(fmt.Errorf("create state directory: %w", err))
	}

	e, day, err := resolveElection(cfg)
	if err != nil {
		return nil, err
	}
	total := e.TotalVotes()
	log.Info("replaying election", "election", e.ID, "votes", total, "regions", len(e.Regions), "date", day.Date.Format(time.DateOnly))

	var t timer
	began := time.Now()

	t.begin()
	st, err := startStack(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer st.close(context.WithoutCancel(ctx))
	t.end("start Kafka, PostgreSQL and Firehose")

	pipelineBegan := time.Now()
	t.begin()
	if err := st.loadElection(ctx, e, day, cfg); err != nil {
		return nil, err
	}
	// The lake's regions table feeds turnout_by_region.
	if _, err := regions.WriteLake(st.bucketDir, e.ID, regions.FromElection(e)); err != nil {
		return nil, fmt.Errorf("write regions of %s into the lake: %w", e.ID, err)
	}
	t.end("load election into PostgreSQL")

	bridgeDone := st.startBridge(ctx)
	tallyDone := st.startTally(ctx)

	t.begin()
	settings, resumedAt, err := replay(ctx, st.kafka, e, day, cfg)
	if err != nil {
		return nil, err
	}
	t.end("replay ballots to votes_topic")

	t.begin()
	if err := waitForGroup(ctx, st.kafka, bridgeGroup, "bridge to Firehose", cfg, bridgeDone); err != nil {
		return nil, err
	}
	t.end("bridge drain to Firehose")

	t.begin()
	if err := waitForGroup(ctx, st.kafka, tally.DefaultGroup, "ledger in PostgreSQL", cfg, tallyDone); err != nil {
		return nil, err
	}
	t.end("tally drain to the ledger")

	t.begin()
	if err := st.firehose.Flush(ctx); err != nil {
		return nil, fmt.Errorf("flush Firehose buffers: %w", err)
	}
	t.end("Firehose flush: transform and Parquet")
	elapsed := time.Since(pipelineBegan)

	t.begin()
	summary, err := audit(ctx, st.bucketDir, e)
	if err != nil {
		return nil, err
	}
	t.end("query lake with DuckDB")

	t.begin()
	if err := auditLedger(ctx, st.pool, e, summary); err != nil {
		return nil, err
	}
	summary.ExpectedRejected = simulate.ExpectedFaults(settings.Faults, settings.Seed, total).ExpectedRejected()
	summary.ResumedAt = resumedAt
	t.end("query ledger in PostgreSQL")

	if err := st.faultCounts(ctx, summary); err != nil {
		return nil, err
	}
	summary.Stages = t.stages
	summary.ElapsedSeconds = time.Since(began).Seconds()
	summary.PipelineSeconds = elapsed.Seconds()
	summary.VotesPerSecond = float64(total) / elapsed.Seconds()
	summary.DashboardURL = st.dashboardURL
	summary.KafkaBrokers = st.broker.Addrs()
	summary.FirehoseEndpoint = "http://" + st.firehoseAddr
	if st.dashboard != nil {
		st.dashboard.SetAudit(dashboard.Audit{
			Agree:          summary.LakeMatchesLedger,
			LakeVotes:      summary.LakeVotes,
			LedgerVotes:    summary.LedgerVotes,
			MismatchedRows: summary.MismatchedRows,
			CheckedAt:      time.Now(),
		})
	}

	if cfg.Serve {
		if cfg.ServeReady != nil {
			cfg.ServeReady(summary)
		}
		<-ctx.Done()
	}
	return summary, nil
}

// faultCounts fills in what the injected faults did on the lake path.
func (st *stack) faultCounts(ctx context.Context, s *Summary) error {
	dead, err := broker.EndOffsets(ctx, st.kafka, vote.DeadLetterTopic)
	if err != nil {
		return err
	}
	s.DeadLettered = dead
	s.BridgeRestarts = int(st.bridgeRestarts.Load())
	for _, n := range st.firehose.FaultStats().FailedEntries {
		s.RetriedEntries += n
	}
	return nil
}

func withDefaults(cfg Config) Config {
	if cfg.StateDir == "" {
		cfg.StateDir = ".votestream"
	}
	if cfg.VotePartitions == 0 {
		cfg.VotePartitions = 8
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.FlushInterval == 0 {
		cfg.FlushInterval = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg
}

// replay produces the ballots that a checkpoint does not yet record as sent,
// and returns the settings the replay used and where it resumed. A replay
// that resumes keeps the seed and faults it started with, whatever cfg sets.
func replay(ctx context.Context, client *kgo.Client, e *election.Election, day election.Day, cfg Config) (replaySettings, int64, error) {
	total := e.TotalVotes()
	checkpoint, settingsPath := replayPaths(cfg.StateDir, e)
	if err := os.MkdirAll(filepath.Dir(checkpoint), 0o755); err != nil {
		return replaySettings{}, 0, fmt.Errorf("create replay checkpoint directory: %w", err)
	}
	start, err := simulate.LoadCheckpoint(checkpoint)
	if err != nil {
		return replaySettings{}, 0, err
	}

	settings := replaySettings{Seed: cfg.Seed, Faults: cfg.Faults}
	stored, found, err := loadReplaySettings(settingsPath)
	if err != nil {
		return settings, start, err
	}
	switch {
	case start > 0 && found && stored != settings:
		cfg.Logger.Warn("this state directory's replay began with another seed or other fault rates; continuing with those, so that every voter votes once",
			"election", e.ID, "seed", stored.Seed, "faults", fmt.Sprintf("%+v", stored.Faults))
		settings = stored
	case start == 0 || !found:
		if err := saveReplaySettings(settingsPath, settings); err != nil {
			return settings, start, err
		}
	}

	if start >= total {
		cfg.Logger.Info("replay already complete in this state directory", "election", e.ID, "votes", total)
		return settings, start, nil
	}
	if start > 0 {
		cfg.Logger.Info("resuming replay", "election", e.ID, "position", start, "votes", total)
	}

	bar := newProgressBar(cfg.Progress, "replay to votes_topic", total, cfg.ProgressIsTerminal)
	result, err := simulate.Run(ctx, simulate.Config{
		Election:       e,
		Day:            day,
		Seed:           settings.Seed,
		Client:         client,
		Start:          start,
		Faults:         settings.Faults,
		CheckpointPath: checkpoint,
		Progress:       func(sent, _ int64) { bar.Update(start + sent) },
	})
	if err != nil {
		return settings, start, fmt.Errorf("replay %s: %w", e.ID, err)
	}
	bar.Finish(start + result.Sent)
	return settings, start, nil
}

// waitForGroup waits until a consumer group has committed past every record
// of votes_topic. For the bridge that means Firehose acknowledged them all;
// for the tally consumer, that the ledger committed them.
func waitForGroup(ctx context.Context, client *kgo.Client, group, label string, cfg Config, stopped <-chan error) error {
	produced, err := broker.EndOffsets(ctx, client, vote.VotesTopic)
	if err != nil {
		return err
	}
	bar := newProgressBar(cfg.Progress, label, produced, cfg.ProgressIsTerminal)
	ticker := time.NewTicker(lagPollInterval)
	defer ticker.Stop()
	for {
		lag, err := broker.GroupLag(ctx, client, group, vote.VotesTopic)
		if err != nil {
			cfg.Logger.Warn("read consumer group lag", "group", group, "err", err)
		} else {
			bar.Update(produced - lag)
			if lag == 0 {
				bar.Finish(produced)
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-stopped:
			return fmt.Errorf("consumer group %s stopped before it reached the end of %s: %w", group, vote.VotesTopic, err)
		case <-ticker.C:
		}
	}
}

// audit compares the lake with the official results.
func audit(ctx context.Context, bucketDir string, e *election.Election) (*Summary, error) {
	l, err := lake.Open(ctx, bucketDir)
	if errors.Is(err, lake.ErrEmpty) && e.TotalVotes() == 0 {
		return &Summary{Election: e.ID, LakeDir: bucketDir}, nil
	}
	if err != nil {
		return nil, err
	}
	defer l.Close()

	a, err := l.Audit(ctx, e.ID)
	if err != nil {
		return nil, err
	}
	candidates, parties := lake.Totals(a.Regions)

	cmp := lake.Compare(e.Results, a.Regions)
	return &Summary{
		DuplicatesInLake: a.Rows - a.Unique,
		LakeRejected:     a.Rejected,
		Election:         e.ID,
		OfficialVotes:    e.TotalVotes(),
		LakeVotes:        a.Valid,
		LakeRows:         a.Rows,
		RowsCompared:     cmp.Rows,
		MismatchedRows:   len(cmp.Diffs),
		Diffs:            cmp.Diffs,
		Candidates:       candidates,
		Parties:          parties,
		Regions:          a.Regions,
		LakeDir:          bucketDir,
	}, nil
}

// auditLedger compares the ledger with the official results and the lake.
func auditLedger(ctx context.Context, pool *pgxpool.Pool, e *election.Election, s *Summary) error {
	counts, rejected, err := tally.Totals(ctx, pool, e.ID)
	if err != nil {
		return err
	}
	ledger := make([]lake.RegionResult, len(counts))
	for i, c := range counts {
		ledger[i] = lake.RegionResult{RegionCode: c.RegionCode, RegionName: c.RegionName, Candidate: c.Candidate, Party: c.Party, Votes: c.Votes}
	}

	cmp := lake.Compare(e.Results, ledger)
	s.LedgerVotes = cmp.LakeVotes
	s.LedgerMismatchedRows = len(cmp.Diffs)
	s.LedgerDiffs = cmp.Diffs
	s.Rejected = rejected
	s.LakeMatchesLedger = sameRows(s.Regions, ledger)
	return nil
}

// sameRows reports whether two sets of region results hold the same counts.
func sameRows(a, b []lake.RegionResult) bool {
	type key struct{ region, candidate, party string }
	counts := make(map[key]int64, len(a))
	for _, r := range a {
		counts[key{r.RegionCode, r.Candidate, r.Party}] += r.Votes
	}
	for _, r := range b {
		counts[key{r.RegionCode, r.Candidate, r.Party}] -= r.Votes
	}
	for _, n := range counts {
		if n != 0 {
			return false
		}
	}
	return true
}
