// Package lake runs SQL over the local votes lake: the Parquet files that the
// local Firehose delivers, read by an embedded DuckDB with the same partition
// keys and views that Athena uses on S3.
package lake

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	_ "github.com/duckdb/duckdb-go/v2" // registers the "duckdb" driver

	"github.com/votestream/votestream/glue"
)

// ErrEmpty is returned by Open when the lake holds no Parquet file yet.
var ErrEmpty = errors.New("the lake contains no Parquet files")

// memoryLimit bounds DuckDB's memory; past it, operators spill to disk.
var memoryLimit = "3GB"

// Lake is an embedded SQL engine with the votes table and glue.Views defined
// over a lake directory.
type Lake struct {
	db *sql.DB
	// spillDir is DuckDB's temporary directory, removed by Close.
	spillDir string
}

// VotesDir returns where the votes table's objects live in a bucket directory.
func VotesDir(bucketDir string) string {
	return filepath.Join(bucketDir, "votes")
}

// RegionsDir returns where the regions table's objects live in a bucket directory.
func RegionsDir(bucketDir string) string {
	return filepath.Join(bucketDir, filepath.FromSlash(glue.RegionsPrefix))
}

// regionsTableSQL returns the statement that defines the regions table over
// the regions files of bucketDir. Without files it defines an empty table, so
// that turnout_by_region exists and is empty.
func regionsTableSQL(bucketDir string) string {
	matches, _ := filepath.Glob(filepath.Join(RegionsDir(bucketDir), "*.parquet"))
	if len(matches) > 0 {
		pattern := filepath.ToSlash(filepath.Join(RegionsDir(bucketDir), "*.parquet"))
		return fmt.Sprintf("CREATE VIEW %s AS SELECT * FROM read_parquet(%s)", glue.RegionsTable, quote(pattern))
	}
	duckTypes := map[string]string{glue.TypeString: "VARCHAR", glue.TypeBigint: "BIGINT"}
	columns := make([]string, 0, len(glue.RegionColumns))
	for _, c := range glue.RegionColumns {
		columns = append(columns, c.Name+" "+duckTypes[c.Type])
	}
	return fmt.Sprintf("CREATE TABLE %s (%s)", glue.RegionsTable, strings.Join(columns, ", "))
}

// Open starts an in-memory DuckDB and defines the votes table over
// bucketDir/votes/election_id=…/dt=…/hour=…/*.parquet, the regions table over
// bucketDir/regions/*.parquet, and glue.Views.
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

	// DuckDB takes 80% of the machine's memory by default; the window
	// functions of valid_votes over a national election then grow to
	// gigabytes. A limit makes it spill to its temporary directory instead.
	spill, err := os.MkdirTemp("", "votestream-duckdb-")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("create DuckDB spill directory: %w", err)
	}
	settings := fmt.Sprintf("SET memory_limit = %s; SET temp_directory = %s; SET preserve_insertion_order = false",
		quote(memoryLimit), quote(spill))
	if _, err := db.ExecContext(ctx, settings); err != nil {
		db.Close()
		os.RemoveAll(spill)
		return nil, fmt.Errorf("configure DuckDB: %w", err)
	}

	pattern := filepath.ToSlash(filepath.Join(votesDir, "*", "*", "*", "*.parquet"))
	table := fmt.Sprintf(`CREATE VIEW votes AS SELECT * FROM read_parquet(%s,
  hive_partitioning = true,
  hive_types = {'election_id': VARCHAR, 'dt': VARCHAR, 'hour': VARCHAR})`, quote(pattern))
	if _, err := db.ExecContext(ctx, table); err != nil {
		db.Close()
		os.RemoveAll(spill)
		return nil, fmt.Errorf("define votes table over %s: %w", votesDir, err)
	}
	if _, err := db.ExecContext(ctx, regionsTableSQL(bucketDir)); err != nil {
		db.Close()
		os.RemoveAll(spill)
		return nil, fmt.Errorf("define regions table over %s: %w", RegionsDir(bucketDir), err)
	}
	for _, v := range glue.Views {
		if _, err := db.ExecContext(ctx, "CREATE VIEW "+v.Name+" AS "+glue.ForDuckDB(v.SQL)); err != nil {
			db.Close()
			os.RemoveAll(spill)
			return nil, fmt.Errorf("define view %s: %w", v.Name, err)
		}
	}
	return &Lake{db: db, spillDir: spill}, nil
}

// Close releases the engine.
func (l *Lake) Close() error {
	err := l.db.Close()
	os.RemoveAll(l.spillDir)
	return err
}

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

	rejected, err := l.rejected(ctx, electionID)
	if err != nil {
		return c, err
	}
	c.Rejected = rejected
	return c, nil
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

// Audit contains the figures of one election that a replay compares with the
// official results.
type Audit struct {
	// Regions is results_by_region of the election.
	Regions []RegionResult
	// Rows counts every row of the election, copies included, and Unique
	// the distinct vote ids among them.
	Rows   int64
	Unique int64
	// Valid counts first accepted ballots per voter.
	Valid int64
	// Rejected counts ballots by reason, as rejected_votes does.
	Rejected map[string]int64
}

// Audit computes valid_votes of one election once, into a temporary table,
// and derives the per-region results from it. Each query of a view that
// builds on valid_votes computes its window functions over the whole lake
// again, which for a national election costs minutes and gigabytes.
func (l *Lake) Audit(ctx context.Context, electionID string) (Audit, error) {
	a := Audit{Rejected: map[string]int64{}}
	steps := []string{
		"DROP TABLE IF EXISTS audit_valid",
		"CREATE TEMP TABLE audit_valid AS SELECT region_code, region_name, candidate_name, party FROM valid_votes WHERE election_id = ?",
	}
	if _, err := l.db.ExecContext(ctx, steps[0]); err != nil {
		return a, fmt.Errorf("audit %s: %w", electionID, err)
	}
	if _, err := l.db.ExecContext(ctx, steps[1], electionID); err != nil {
		return a, fmt.Errorf("audit %s: compute valid votes: %w", electionID, err)
	}
	defer l.db.ExecContext(context.WithoutCancel(ctx), steps[0])

	rows, err := l.db.QueryContext(ctx, `SELECT region_code, region_name, candidate_name, party, count(*) AS votes
FROM audit_valid GROUP BY ALL ORDER BY region_code, votes DESC, candidate_name`)
	if err != nil {
		return a, fmt.Errorf("audit %s: results by region: %w", electionID, err)
	}
	for rows.Next() {
		var r RegionResult
		if err := rows.Scan(&r.RegionCode, &r.RegionName, &r.Candidate, &r.Party, &r.Votes); err != nil {
			rows.Close()
			return a, fmt.Errorf("audit %s: read results by region: %w", electionID, err)
		}
		a.Regions = append(a.Regions, r)
		a.Valid += r.Votes
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return a, fmt.Errorf("audit %s: read results by region: %w", electionID, err)
	}

	count := "SELECT count(*), count(DISTINCT vote_id) FROM votes WHERE election_id = ?"
	if err := l.db.QueryRowContext(ctx, count, electionID).Scan(&a.Rows, &a.Unique); err != nil {
		return a, fmt.Errorf("audit %s: count rows: %w", electionID, err)
	}
	if a.Rejected, err = l.rejected(ctx, electionID); err != nil {
		return a, err
	}
	return a, nil
}

// rejected returns rejected_votes of one election by reason.
func (l *Lake) rejected(ctx context.Context, electionID string) (map[string]int64, error) {
	rejected := map[string]int64{}
	rows, err := l.db.QueryContext(ctx, "SELECT reason, ballots FROM rejected_votes WHERE election_id = ?", electionID)
	if err != nil {
		return nil, fmt.Errorf("count rejected votes of %s: %w", electionID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var reason string
		var n int64
		if err := rows.Scan(&reason, &n); err != nil {
			return nil, fmt.Errorf("read rejected votes of %s: %w", electionID, err)
		}
		rejected[reason] += n
	}
	return rejected, rows.Err()
}

// Totals sums region results into national totals per candidate and party,
// most votes first.
func Totals(regions []RegionResult) ([]CandidateResult, []PartyResult) {
	type candidateKey struct{ name, party string }
	byCandidate := map[candidateKey]int64{}
	byParty := map[string]int64{}
	for _, r := range regions {
		byCandidate[candidateKey{r.Candidate, r.Party}] += r.Votes
		byParty[r.Party] += r.Votes
	}

	candidates := make([]CandidateResult, 0, len(byCandidate))
	for k, v := range byCandidate {
		candidates = append(candidates, CandidateResult{Candidate: k.name, Party: k.party, Votes: v})
	}
	sort.Slice(candidates, func(i, j int) bool {
		a, b := candidates[i], candidates[j]
		if a.Votes != b.Votes {
			return a.Votes > b.Votes
		}
		if a.Candidate != b.Candidate {
			return a.Candidate < b.Candidate
		}
		return a.Party < b.Party
	})

	parties := make([]PartyResult, 0, len(byParty))
	for k, v := range byParty {
		parties = append(parties, PartyResult{Party: k, Votes: v})
	}
	sort.Slice(parties, func(i, j int) bool {
		if parties[i].Votes != parties[j].Votes {
			return parties[i].Votes > parties[j].Votes
		}
		return parties[i].Party < parties[j].Party
	})
	return candidates, parties
}
