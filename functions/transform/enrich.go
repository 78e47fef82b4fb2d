package transform

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// catalogRetryInterval is how long the catalogue waits before it reloads
// again for an election id it did not find, so that ballots of an election
// that was never loaded do not cost a reload on every invocation.
const catalogRetryInterval = 30 * time.Second

// electionInfo is the cached catalogue of one election.
type electionInfo struct {
	date       time.Time
	candidates map[string]candidate
	regions    map[string]string // region code to name
}

type candidate struct {
	name  string
	party string
}

// catalog caches elections, candidates and regions for the process lifetime.
// Those tables change only when an election is loaded, so the catalogue is
// reloaded only when a ballot names an election that it does not hold.
type catalog struct {
	mu        sync.Mutex
	elections map[string]*electionInfo
	// candidateElections maps a candidate id to the elections that have it,
	// to tell a candidate of another election from an unknown one.
	candidateElections map[string][]string
	loadedAt           time.Time
}

// needsReload reports whether the catalogue must be loaded before it can
// return the election ids: on first use, and when an id is missing and
// the last load is older than catalogRetryInterval.
func (c *catalog) needsReload(ids map[string]bool, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.elections == nil {
		return true
	}
	for id := range ids {
		if _, ok := c.elections[id]; !ok && now.Sub(c.loadedAt) >= catalogRetryInterval {
			return true
		}
	}
	return false
}

func (c *catalog) election(id string) (*electionInfo, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.elections[id]
	return e, ok
}

// inOtherElection reports whether candidateID belongs to an election other than electionID.
func (c *catalog) inOtherElection(candidateID, electionID string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range c.candidateElections[candidateID] {
		if id != electionID {
			return true
		}
	}
	return false
}

// load reads the whole catalogue with three queries on conn and replaces the cached one.
func (c *catalog) load(ctx context.Context, conn *pgxpool.Conn, now time.Time) error {
	elections := make(map[string]*electionInfo)
	rows, err := conn.Query(ctx, "SELECT id, election_date FROM elections", pgx.QueryExecModeExec)
	if err != nil {
		return fmt.Errorf("query elections: %w", err)
	}
	var id string
	var date time.Time
	_, err = pgx.ForEachRow(rows, []any{&id, &date}, func() error {
		elections[id] = &electionInfo{date: date, candidates: map[string]candidate{}, regions: map[string]string{}}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read elections: %w", err)
	}

	candidateElections := make(map[string][]string)
	rows, err = conn.Query(ctx, "SELECT election_id, id, name, party FROM candidates", pgx.QueryExecModeExec)
	if err != nil {
		return fmt.Errorf("query candidates: %w", err)
	}
	var electionID, name, party string
	_, err = pgx.ForEachRow(rows, []any{&electionID, &id, &name, &party}, func() error {
		if e, ok := elections[electionID]; ok {
			e.candidates[id] = candidate{name: name, party: party}
		}
		candidateElections[id] = append(candidateElections[id], electionID)
		return nil
	})
	if err != nil {
		return fmt.Errorf("read candidates: %w", err)
	}

	rows, err = conn.Query(ctx, "SELECT election_id, code, name FROM regions", pgx.QueryExecModeExec)
	if err != nil {
		return fmt.Errorf("query regions: %w", err)
	}
	var code string
	_, err = pgx.ForEachRow(rows, []any{&electionID, &code, &name}, func() error {
		if e, ok := elections[electionID]; ok {
			e.regions[code] = name
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read regions: %w", err)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	c.elections, c.candidateElections, c.loadedAt = elections, candidateElections, now
	return nil
}

// voterLookupSQL fetches the voters of many elections in one round trip. The
// arrays pair an election id with a voter id at each position. It names no
// prepared statement, so it works through RDS Proxy and PgBouncer in
// transaction mode. The LATERAL subquery with LIMIT 1 keeps the planner from
// turning the lookup into a hash join over the whole register, which it
// prefers once a batch asks for about 1% of the voters and which costs a full
// scan of a national register per batch; each key is one primary-key probe.
const voterLookupSQL = `SELECT v.election_id, v.id, v.birth_year, v.region_code
FROM unnest($1::text[], $2::text[]) AS k(election_id, id)
JOIN LATERAL (
  SELECT election_id, id, birth_year, region_code FROM voters
  WHERE voters.election_id = k.election_id AND voters.id = k.id
  LIMIT 1
) v ON true`

// lookupVoters queries the voters in keys with one query and returns those found.
func lookupVoters(ctx context.Context, conn *pgxpool.Conn, keys []voterKey) (map[voterKey]voterInfo, error) {
	elections := make([]string, len(keys))
	ids := make([]string, len(keys))
	for i, k := range keys {
		elections[i], ids[i] = k.electionID, k.voterID
	}
	rows, err := conn.Query(ctx, voterLookupSQL, pgx.QueryExecModeExec, elections, ids)
	if err != nil {
		return nil, fmt.Errorf("query %d voters: %w", len(keys), err)
	}
	found := make(map[voterKey]voterInfo, len(keys))
	var k voterKey
	var info voterInfo
	var birthYear int32
	_, err = pgx.ForEachRow(rows, []any{&k.electionID, &k.voterID, &birthYear, &info.regionCode}, func() error {
		info.birthYear = int(birthYear)
		found[k] = info
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %d voters: %w", len(keys), err)
	}
	return found, nil
}
