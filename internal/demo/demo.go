// Package demo runs the whole local stack on one machine and replays an
// election through it: the embedded Kafka broker, PostgreSQL, the local
// Firehose with the transformation function, the bridge, the Parquet lake and
// the SQL engine over it. It ends by comparing the lake with the official
// results row by row.
package demo

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"time"

	"github.com/votestream/votestream/glue/lake"
	"github.com/votestream/votestream/infra/elections"
	"github.com/votestream/votestream/internal/election"
	"github.com/votestream/votestream/internal/simulate"
)

// Config configures Run. The zero value of every field but StateDir has a
// working default.
type Config struct {
	// Election is the name of a bundled election or the path of a results
	// CSV. Default: elections.Default.
	Election string
	// ElectionDate overrides the polling day, as YYYY-MM-DD.
	ElectionDate string
	// StateDir holds every component's state; a second Run on the same
	// directory resumes where the first stopped.
	StateDir string

	// DatabaseURL selects an existing PostgreSQL; empty starts a cluster in
	// StateDir with the machine's initdb and pg_ctl.
	DatabaseURL string

	// Ports on 127.0.0.1; 0 picks a free port.
	KafkaPort    int
	PostgresPort int
	FirehosePort int

	// VotePartitions is the partition count of votes_topic when the demo
	// creates it. Default 8.
	VotePartitions int32
	// Seed orders the replay and draws the faults. Default 1.
	Seed uint64
	// Faults adds ballots that the ledger and the lake must reject or drop;
	// the official totals must still come out exactly.
	Faults simulate.Faults
	// TemplatePath is a sam-template.yaml to read the delivery stream from;
	// empty uses the template built into the binary.
	TemplatePath string
	// FlushInterval bounds how long the local Firehose buffers records
	// before it invokes the transform and writes Parquet. Default 5s; the
	// demo also flushes at the end of the replay.
	FlushInterval time.Duration

	// DashboardPort serves the live dashboard on 127.0.0.1; 0 picks a free
	// port and a negative value serves none.
	DashboardPort int
	// Serve keeps the stack and the dashboard running after the replay
	// until ctx ends. ServeReady, when set, receives the summary as soon as
	// the replay is audited, before Run waits.
	Serve      bool
	ServeReady func(*Summary)

	// Chaos injects faults between the bridge and Firehose.
	Chaos Chaos

	// Progress receives progress bars; nil draws none.
	Progress io.Writer
	// ProgressIsTerminal redraws bars in place.
	ProgressIsTerminal bool
	Logger             *slog.Logger
}

// Chaos configures fault injection on the lake path. The zero value injects
// nothing.
type Chaos struct {
	// BridgeKills runs the bridge as a child process (BridgeBinary bridge …)
	// and kills it with SIGKILL that many times at random points of the
	// replay, restarting it each time.
	BridgeKills int
	// BridgeBinary is the votestream executable for the child bridge.
	// Default: os.Executable().
	BridgeBinary string
	// KillDelayMin and KillDelayMax bound the time from a child bridge's
	// start to its kill; zero takes the defaults of package chaos.
	KillDelayMin time.Duration
	KillDelayMax time.Duration
	// PutFailureRate fails that fraction of the entries of each
	// PutRecordBatch call; ThrottleRate rejects that fraction of calls with
	// ServiceUnavailableException; DropResponseRate accepts that fraction
	// of calls and closes the connection before the response.
	PutFailureRate   float64
	ThrottleRate     float64
	DropResponseRate float64
}

// Stage is how long one step of the demo took.
type Stage struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
}

// Summary is the outcome of a demo run.
type Summary struct {
	Election       string `json:"election"`
	OfficialVotes  int64  `json:"official_votes"`
	LakeVotes      int64  `json:"lake_votes"`
	LakeRows       int64  `json:"lake_rows"`
	RowsCompared   int    `json:"rows_compared"`
	MismatchedRows int    `json:"mismatched_rows"`

	// LedgerVotes counts the ballots that the PostgreSQL ledger accepted.
	LedgerVotes int64 `json:"ledger_votes"`
	// LedgerMismatchedRows counts region/candidate rows where the ledger
	// differs from the official results.
	LedgerMismatchedRows int `json:"ledger_mismatched_rows"`
	// Rejected counts the ledger's rejected ballots by reason, and
	// ExpectedRejected what the injected faults must have caused.
	Rejected         map[string]int64 `json:"rejected"`
	ExpectedRejected map[string]int64 `json:"expected_rejected"`
	// LakeRejected counts rejected ballots in the lake by reason. Malformed
	// ballots never reach the lake: the bridge sends them to the dead-letter
	// topic.
	LakeRejected map[string]int64 `json:"lake_rejected"`
	// LakeMatchesLedger reports whether the lake's valid votes equal the
	// ledger's per region and candidate.
	LakeMatchesLedger bool `json:"lake_matches_ledger"`

	// BridgeRestarts counts restarts of a killed child bridge.
	BridgeRestarts int `json:"bridge_restarts"`
	// RetriedEntries counts PutRecordBatch entries that the local Firehose
	// failed on purpose, each of which the bridge had to send again.
	RetriedEntries int64 `json:"retried_entries"`
	// DuplicatesInLake counts lake rows beyond one per vote_id.
	DuplicatesInLake int64 `json:"duplicates_in_lake"`
	// DeadLettered counts the records in the dead-letter topic.
	DeadLettered int64 `json:"dead_lettered"`
	// DashboardURL is the address of the live dashboard.
	DashboardURL string `json:"dashboard_url,omitempty"`
	// KafkaBrokers and FirehoseEndpoint are the addresses of the embedded
	// broker and the local Firehose, for other clients while --serve keeps
	// the stack running.
	KafkaBrokers     []string `json:"kafka_brokers,omitempty"`
	FirehoseEndpoint string   `json:"firehose_endpoint,omitempty"`

	// ResumedAt is the replay position this run started from: 0 for a
	// fresh replay, the total when an earlier run had produced every ballot.
	ResumedAt int64 `json:"resumed_at"`
	// ElapsedSeconds is the whole run. PipelineSeconds is the time from the
	// election load to the last Parquet object, which leaves out start-up
	// and the audit queries, and VotesPerSecond divides the ballots by it.
	ElapsedSeconds  float64 `json:"elapsed_seconds"`
	PipelineSeconds float64 `json:"pipeline_seconds"`
	VotesPerSecond  float64 `json:"votes_per_second"`
	Stages          []Stage `json:"stages"`

	// The rest is printed in the report but left out of the JSON summary.
	Diffs       []lake.RowDiff         `json:"-"`
	LedgerDiffs []lake.RowDiff         `json:"-"`
	Candidates  []lake.CandidateResult `json:"-"`
	Parties     []lake.PartyResult     `json:"-"`
	Regions     []lake.RegionResult    `json:"-"`
	LakeDir     string                 `json:"-"`
}

// Problems lists, in words, how the run differs from what it must show; it
// is empty exactly when Matches is true.
func (s *Summary) Problems() []string {
	var problems []string
	if s.MismatchedRows != 0 || s.LakeVotes != s.OfficialVotes {
		problems = append(problems, fmt.Sprintf("the lake holds %d valid votes against %d official, and %d region/candidate rows differ", s.LakeVotes, s.OfficialVotes, s.MismatchedRows))
	}
	if s.LedgerMismatchedRows != 0 || s.LedgerVotes != s.OfficialVotes {
		problems = append(problems, fmt.Sprintf("the ledger holds %d votes against %d official, and %d region/candidate rows differ", s.LedgerVotes, s.OfficialVotes, s.LedgerMismatchedRows))
	}
	if !s.LakeMatchesLedger {
		problems = append(problems, "the lake and the ledger differ")
	}
	if !maps.Equal(s.Rejected, s.ExpectedRejected) {
		problems = append(problems, "the ledger's rejected ballots differ from what the injected faults require")
	}
	return problems
}

// Matches reports whether the lake and the ledger both equal the official
// results, and the ledger rejected exactly the injected faults.
func (s *Summary) Matches() bool {
	return s.MismatchedRows == 0 && s.LakeVotes == s.OfficialVotes &&
		s.LedgerMismatchedRows == 0 && s.LedgerVotes == s.OfficialVotes &&
		s.LakeMatchesLedger && maps.Equal(s.Rejected, s.ExpectedRejected)
}

// ErrSetup marks failures of the environment rather than of the pipeline:
// a missing PostgreSQL, a port in use, an unreadable election file.
var ErrSetup = errors.New("set-up failed")

func setupErr(err error) error { return fmt.Errorf("%w: %w", ErrSetup, err) }

// resolveElection loads the election that cfg names.
func resolveElection(cfg Config) (*election.Election, election.Day, error) {
	name := cfg.Election
	if name == "" {
		name = elections.Default
	}
	path := name
	if elections.IsBundled(name) {
		var err error
		if path, err = elections.Extract(name, filepath.Join(cfg.StateDir, "elections")); err != nil {
			return nil, election.Day{}, setupErr(err)
		}
	} else if _, err := os.Stat(path); err != nil {
		return nil, election.Day{}, setupErr(fmt.Errorf("election %q is neither a bundled election (%v) nor a readable file: %w", name, elections.Names(), err))
	}

	e, err := election.Load(path)
	if err != nil {
		return nil, election.Day{}, setupErr(err)
	}
	if _, err := os.Stat(election.RegionsPath(path)); err != nil {
		cfg.Logger.Warn("no regions file beside the results: regions come from the results, and registration and turnout are unknown",
			"expected", election.RegionsPath(path))
	}
	day, err := election.DefaultDay(path)
	if err != nil {
		return nil, election.Day{}, setupErr(err)
	}
	if cfg.ElectionDate != "" {
		if day.Date, err = election.ParseDate(cfg.ElectionDate); err != nil {
			return nil, election.Day{}, setupErr(err)
		}
	}
	return e, day, nil
}

// timer records the duration of stages.
type timer struct {
	stages []Stage
	start  time.Time
}

func (t *timer) begin() { t.start = time.Now() }

func (t *timer) end(name string) {
	t.stages = append(t.stages, Stage{Name: name, Seconds: time.Since(t.start).Seconds()})
}
