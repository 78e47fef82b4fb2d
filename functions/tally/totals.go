package tally

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// RegionCandidateCount is the number of accepted ballots of one candidate in
// one region, at the grain of official results and of the lake's
// results_by_region view.
type RegionCandidateCount struct {
	RegionCode  string
	RegionName  string
	CandidateID string
	Candidate   string
	Party       string
	Votes       int64
}

// Totals counts one election from the ledger itself, not from the tally
// tables: accepted ballots per region and candidate, sorted by region and
// then by votes, most first, and rejected ballots by reason. Comparing it
// with the snapshots checks the tallies, and comparing it with the lake and
// the official results checks the whole pipeline.
func Totals(ctx context.Context, pool *pgxpool.Pool, electionID string) ([]RegionCandidateCount, map[string]int64, error) {
	rows, err := pool.Query(ctx, `SELECT vr.region_code, coalesce(r.name, ''), v.candidate_id, coalesce(c.name, ''), coalesce(c.party, ''), count(*)
FROM votes v
JOIN voters vr ON vr.election_id = v.election_id AND vr.id = v.voter_id
LEFT JOIN regions r ON r.election_id = v.election_id AND r.code = vr.region_code
LEFT JOIN candidates c ON c.election_id = v.election_id AND c.id = v.candidate_id
WHERE v.election_id = $1
GROUP BY 1, 2, 3, 4, 5
ORDER BY 1, 6 DESC, 4`, electionID)
	if err != nil {
		return nil, nil, fmt.Errorf("count ledger of %s: %w", electionID, err)
	}
	counts, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (RegionCandidateCount, error) {
		var c RegionCandidateCount
		err := row.Scan(&c.RegionCode, &c.RegionName, &c.CandidateID, &c.Candidate, &c.Party, &c.Votes)
		return c, err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("count ledger of %s: %w", electionID, err)
	}

	rows, err = pool.Query(ctx, `SELECT reason, count(*) FROM rejected_votes WHERE election_id = $1 GROUP BY reason`, electionID)
	if err != nil {
		return nil, nil, fmt.Errorf("count rejected ballots of %s: %w", electionID, err)
	}
	rejected := map[string]int64{}
	var reason string
	var n int64
	if _, err := pgx.ForEachRow(rows, []any{&reason, &n}, func() error {
		rejected[reason] = n
		return nil
	}); err != nil {
		return nil, nil, fmt.Errorf("count rejected ballots of %s: %w", electionID, err)
	}
	return counts, rejected, nil
}

// Redeliveries counts the copies of known ballots of an election that
// arrived at new offsets. They change no count and are not rejects.
func Redeliveries(ctx context.Context, pool *pgxpool.Pool, electionID string) (int64, error) {
	var n int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM redelivered_votes WHERE election_id = $1`, electionID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count redelivered ballots of %s: %w", electionID, err)
	}
	return n, nil
}
