// Package lake runs SQL over the local votes lake: the Parquet files that the
// local Firehose delivers, read by an embedded DuckDB with the same partition
// keys and views that Athena uses on S3.
package lake

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	_ "github.com/duckdb/duckdb-go/v2" // registers the "duckdb" driver

	"github.com/votestream/votestream/glue"
)

// ErrEmpty is returned by Open when the lake holds no Parquet file yet.
var ErrEmpty = errors.New("the lake holds no Parquet files")

// Lake is an embedded SQL engine with the votes table and glue.Views defined
// over a lake directory.
type Lake struct {
	db *sql.DB
}

// VotesDir returns where the votes table's objects live in a bucket directory.
func VotesDir(bucketDir string) string {
	return filepath.Join(bucketDir, "votes")
}

// Open starts an in-memory DuckDB and defines the votes table over
// bucketDir/votes/election_id=…/dt=…/hour=…/*.parquet.
func Open(ctx context.Context, bucketDir string) (*Lake, error) {
	votesDir := VotesDir(bucketDir)
	matches, _ := filepath.Glob(filepath.Join(votesDir, "election_id=*", "dt=*", "hour=*", "*.parquet"))
	if len(matches) == 0 {
		return nil, fmt.Errorf("open lake %s: %w", votesDir, ErrEmpty)
	}

	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, fmt.Errorf("open DuckDB: %w", err)
	}
	// One connection keeps the views, which live in the in-memory catalog of
	// that connection's database, visible to every query.
	db.SetMaxOpenConns(1)

	pattern := filepath.ToSlash(filepath.Join(votesDir, "*", "*", "*", "*.parquet"))
	table := fmt.Sprintf(`CREATE VIEW votes AS SELECT * FROM read_parquet(%s,
  hive_partitioning = true,
  hive_types = {'election_id': VARCHAR, 'dt': VARCHAR, 'hour': VARCHAR})`, quote(pattern))
	if _, err := db.ExecContext(ctx, table); err != nil {
		db.Close()
		return nil, fmt.Errorf("define votes table over %s: %w", votesDir, err)
	}
	for _, v := range glue.Views {
		if _, err := db.ExecContext(ctx, "CREATE VIEW "+v.Name+" AS "+v.SQL); err != nil {
			db.Close()
			return nil, fmt.Errorf("define view %s: %w", v.Name, err)
		}
	}
	return &Lake{db: db}, nil
}

// Close releases the engine.
func (l *Lake) Close() error { return l.db.Close() }

// DB returns the engine for ad-hoc queries.
func (l *Lake) DB() *sql.DB { return l.db }

func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// RegionResult is the count of valid votes for one candidate in one region.
type RegionResult struct {
	RegionCode string
	RegionName string
	Candidate  string
	Party      string
	Votes      int64
}

// ResultsByRegion returns results_by_region for one election.
func (l *Lake) ResultsByRegion(ctx context.Context, electionID string) ([]RegionResult, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT region_code, region_name, candidate_name, party, votes
FROM results_by_region WHERE election_id = ? ORDER BY region_code, votes DESC, candidate_name`, electionID)
	if err != nil {
		return nil, fmt.Errorf("query results_by_region of %s: %w", electionID, err)
	}
	defer rows.Close()

	var results []RegionResult
	for rows.Next() {
		var r RegionResult
		if err := rows.Scan(&r.RegionCode, &r.RegionName, &r.Candidate, &r.Party, &r.Votes); err != nil {
			return nil, fmt.Errorf("read results_by_region of %s: %w", electionID, err)
		}
		results = append(results, r)
	}
	return results, rows.Err()
}

// Counts summarises the rows of one election in the lake.
type Counts struct {
	// Rows counts every row, copies included.
	Rows int64
	// Unique counts distinct vote ids.
	Unique int64
	// Valid counts first accepted ballots per voter.
	Valid int64
	// Rejected counts ballots by reason: enrichment rejections and later
	// ballots of voters who had voted.
	Rejected map[string]int64
}

// Count returns the Counts of one election.
func (l *Lake) Count(ctx context.Context, electionID string) (Counts, error) {
	c := Counts{Rejected: map[string]int64{}}
	queries := []struct {
		sql  string
		dest *int64
	}{
		{"SELECT count(*) FROM votes WHERE election_id = ?", &c.Rows},
		{"SELECT count(*) FROM unique_votes WHERE election_id = ?", &c.Unique},
		{"SELECT count(*) FROM valid_votes WHERE election_id = ?", &c.Valid},
	}
	for _, q := range queries {
		if err := l.db.QueryRowContext(ctx, q.sql, electionID).Scan(q.dest); err != nil {
			return c, fmt.Errorf("count votes of %s: %w", electionID, err)
		}
	}

	rows, err := l.db.QueryContext(ctx, "SELECT reason, ballots FROM rejected_votes WHERE election_id = ?", electionID)
	if err != nil {
		return c, fmt.Errorf("count rejected votes of %s: %w", electionID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var reason string
		var n int64
		if err := rows.Scan(&reason, &n); err != nil {
			return c, fmt.Errorf("read rejected votes of %s: %w", electionID, err)
		}
		c.Rejected[reason] += n
	}
	return c, rows.Err()
}

// CandidateResult is the national count of valid votes of one candidate.
type CandidateResult struct {
	Candidate string
	Party     string
	Votes     int64
}

// ResultsByCandidate returns results_by_candidate for one election, most votes first.
func (l *Lake) ResultsByCandidate(ctx context.Context, electionID string) ([]CandidateResult, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT candidate_name, party, votes
FROM results_by_candidate WHERE election_id = ? ORDER BY votes DESC, candidate_name, party`, electionID)
	if err != nil {
		return nil, fmt.Errorf("query results_by_candidate of %s: %w", electionID, err)
	}
	defer rows.Close()

	var results []CandidateResult
	for rows.Next() {
		var r CandidateResult
		if err := rows.Scan(&r.Candidate, &r.Party, &r.Votes); err != nil {
			return nil, fmt.Errorf("read results_by_candidate of %s: %w", electionID, err)
		}
		results = append(results, r)
	}
	return results, rows.Err()
}

// PartyResult is the national count of valid votes of one party.
type PartyResult struct {
	Party string
	Votes int64
}

// ResultsByParty returns results_by_party for one election, most votes first.
func (l *Lake) ResultsByParty(ctx context.Context, electionID string) ([]PartyResult, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT party, votes
FROM results_by_party WHERE election_id = ? ORDER BY votes DESC, party`, electionID)
	if err != nil {
		return nil, fmt.Errorf("query results_by_party of %s: %w", electionID, err)
	}
	defer rows.Close()

	var results []PartyResult
	for rows.Next() {
		var r PartyResult
		if err := rows.Scan(&r.Party, &r.Votes); err != nil {
			return nil, fmt.Errorf("read results_by_party of %s: %w", electionID, err)
		}
		results = append(results, r)
	}
	return results, rows.Err()
}
