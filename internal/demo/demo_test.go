package demo

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/votestream/votestream/glue/lake"
	"github.com/votestream/votestream/internal/election"
	"github.com/votestream/votestream/internal/simulate"
)

// vermontSlice writes the results of the given Vermont counties, and their
// regions rows, to a new election pair in a temporary directory.
func vermontSlice(t *testing.T, counties ...string) string {
	t.Helper()
	keep := map[string]bool{}
	for _, c := range counties {
		keep[c] = true
	}
	dir := t.TempDir()
	src := filepath.Join("..", "..", "infra", "elections", "us-vt-pres-2024")
	dst := filepath.Join(dir, "vt-slice-2024")
	for _, suffix := range []string{".csv", ".regions.csv"} {
		copyRows(t, src+suffix, dst+suffix, keep)
	}
	meta, err := os.ReadFile(src + ".election.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst+".election.json", meta, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst + ".csv"
}

// copyRows copies the header and the rows whose first column is in keep.
func copyRows(t *testing.T, from, to string, keep map[string]bool) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	records, err := csv.NewReader(in).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	w := csv.NewWriter(out)
	for i, r := range records {
		if i == 0 || keep[r[0]] {
			w.Write(r)
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
}

// stateDir returns a new state directory that an unprivileged user can
// enter: PostgreSQL runs as one when the tests run as root, and t.TempDir's
// parent is private to its creator.
func stateDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "votestream-demo-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func testConfig(t *testing.T, electionPath, stateDir string) Config {
	return Config{
		Election:       electionPath,
		StateDir:       stateDir,
		VotePartitions: 4,
		FlushInterval:  time.Second,
	}
}

// TestDemoTwoVermontCounties replays Essex and Grand Isle counties through the
// embedded broker, a real PostgreSQL, the local Firehose over HTTP and the
// Parquet lake, and checks the lake against the official rows.
func TestDemoTwoVermontCounties(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	path := vermontSlice(t, "50009", "50013")
	official, err := election.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	stateDir := stateDir(t)

	cfg := testConfig(t, path, stateDir)
	cfg.Faults = simulate.Faults{DoubleVoteRate: 0.02, RedeliveryRate: 0.02, UnknownVoterRate: 0.01, UnknownCandidateRate: 0.01, MalformedRate: 0.01}
	summary, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if summary.OfficialVotes != official.TotalVotes() {
		t.Errorf("OfficialVotes = %d, want %d", summary.OfficialVotes, official.TotalVotes())
	}
	if summary.LakeVotes != official.TotalVotes() {
		t.Errorf("LakeVotes = %d, want %d", summary.LakeVotes, official.TotalVotes())
	}
	if summary.RowsCompared != len(official.Results) {
		t.Errorf("RowsCompared = %d, want %d", summary.RowsCompared, len(official.Results))
	}
	if summary.MismatchedRows != 0 {
		t.Errorf("MismatchedRows = %d: %+v", summary.MismatchedRows, summary.Diffs)
	}
	if summary.LedgerVotes != official.TotalVotes() {
		t.Errorf("LedgerVotes = %d, want %d", summary.LedgerVotes, official.TotalVotes())
	}
	if summary.LedgerMismatchedRows != 0 {
		t.Errorf("LedgerMismatchedRows = %d: %+v", summary.LedgerMismatchedRows, summary.LedgerDiffs)
	}
	if !summary.LakeMatchesLedger {
		t.Error("LakeMatchesLedger = false")
	}
	for _, reason := range []string{"duplicate_voter", "unknown_voter", "unknown_candidate", "malformed"} {
		if summary.ExpectedRejected[reason] == 0 {
			t.Errorf("ExpectedRejected[%s] = 0: the fault rates should inject some", reason)
		}
		if got, want := summary.Rejected[reason], summary.ExpectedRejected[reason]; got != want {
			t.Errorf("ledger Rejected[%s] = %d, want %d", reason, got, want)
		}
	}
	// Enrichment rejects reach the lake; malformed ballots go to the
	// dead-letter topic instead.
	for _, reason := range []string{"duplicate_voter", "unknown_voter", "unknown_candidate"} {
		if got, want := summary.LakeRejected[reason], summary.ExpectedRejected[reason]; got != want {
			t.Errorf("lake Rejected[%s] = %d, want %d", reason, got, want)
		}
	}
	if !summary.Matches() {
		t.Error("Matches = false")
	}

	// Read the lake again, independently of the summary, and compare each
	// official row with its count.
	l, err := lake.Open(ctx, summary.LakeDir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rows, err := l.ResultsByRegion(ctx, official.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := map[[3]string]int64{}
	for _, r := range rows {
		got[[3]string{r.RegionCode, r.Candidate, r.Party}] = r.Votes
	}
	for _, r := range official.Results {
		if n := got[[3]string{r.RegionCode, r.Candidate, r.Party}]; n != r.Votes {
			t.Errorf("%s %s (%s): lake %d, official %d", r.RegionCode, r.Candidate, r.Party, n, r.Votes)
		}
	}
	if len(rows) != len(official.Results) {
		t.Errorf("lake has %d region/candidate rows, official %d", len(rows), len(official.Results))
	}

	// A second run on the same state directory resumes: it replays nothing
	// and the count stays exact. It keeps the seed and faults the replay
	// began with, even when asked for others.
	cfg.Seed, cfg.Faults = 99, simulate.Faults{}
	again, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Matches() {
		t.Errorf("second run does not match: %v", again.Problems())
	}
	if again.ResumedAt != official.TotalVotes() {
		t.Errorf("second run ResumedAt = %d, want %d", again.ResumedAt, official.TotalVotes())
	}
	if again.LakeRows != summary.LakeRows {
		t.Errorf("second run changed the lake from %d to %d rows", summary.LakeRows, again.LakeRows)
	}
}
