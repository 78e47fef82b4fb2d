package loader

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/votestream/votestream/infra/migrations"
	"github.com/votestream/votestream/internal/election"
	"github.com/votestream/votestream/internal/pgcluster/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

// Names with commas, quotes and accents; region R3 has no results and no
// published figures; Zoë has one vote.
const (
	testResults = `region_code,region_name,candidate,party,votes
R1,"Ashby, North",Anna Ñúñez,"Party ""Red""",5
R1,"Ashby, North",Bob O'Brien,Blue,3
R2,Été-sur-Mer,Anna Ñúñez,"Party ""Red""",2
R2,Été-sur-Mer,"Zoë, the ""Independent""",Independent,1
`
	testRegions = `region_code,region_name,registered_voters,ballots_cast,valid_votes
R1,"Ashby, North",20,9,8
R2,Été-sur-Mer,,,3
R3,Empty Vale,,,
`
)

// writeElection writes the test files and loads them with the election package.
func writeElection(t *testing.T) (*election.Election, election.Day) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "test-2024.csv")
	if err := os.WriteFile(path, []byte(testResults), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(election.RegionsPath(path), []byte(testRegions), 0o600); err != nil {
		t.Fatal(err)
	}
	e, err := election.Load(path)
	if err != nil {
		t.Fatalf("election.Load: %v", err)
	}
	return e, election.Day{Date: time.Date(2024, 7, 4, 0, 0, 0, 0, time.UTC), Open: 6 * time.Hour, Close: 21 * time.Hour}
}

func newPool(t *testing.T) *pgxpool.Pool {
	return newPoolB(t)
}

func newPoolB(t testing.TB) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := migrations.Apply(ctx, pool); err != nil {
		t.Fatalf("migrations.Apply: %v", err)
	}
	return pool
}

func TestLoadMatchesResults(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	e, day := writeElection(t)

	var calls []int64
	stats, err := Load(ctx, pool, e, day, func(done, total int64) { calls = append(calls, done) })
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if stats.Voters != 11 || stats.VotersCopied != 11 {
		t.Errorf("stats = %+v, want 11 voters copied", stats)
	}
	if !stats.RebuiltPrimaryKey {
		t.Error("stats.RebuiltPrimaryKey = false on an empty voters table")
	}
	if len(calls) == 0 || calls[len(calls)-1] != 11 {
		t.Errorf("progress calls = %v, want the last to report 11", calls)
	}

	// Votes per region and candidate, derived back from the voters.
	x := e.Expand()
	perRegion := map[string]int64{}
	for _, r := range e.Results {
		perRegion[r.RegionCode] += r.Votes
	}
	rows, err := pool.Query(ctx, "SELECT region_code, count(*) FROM voters WHERE election_id = $1 GROUP BY region_code", e.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for rows.Next() {
		var code string
		var n int64
		if err := rows.Scan(&code, &n); err != nil {
			t.Fatal(err)
		}
		got[code] = n
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	for code, want := range perRegion {
		if got[code] != want {
			t.Errorf("region %s has %d voters, want %d", code, got[code], want)
		}
	}
	if len(got) != len(perRegion) {
		t.Errorf("voters span regions %v, want %v", got, perRegion)
	}

	// Every voter matches the expansion: id, region and birth year.
	for i := range x.Total() {
		want := x.Voter(i, day.Date)
		var region, name string
		var birthYear int
		var registeredAt time.Time
		err := pool.QueryRow(ctx, "SELECT region_code, birth_year, name, registered_at FROM voters WHERE election_id = $1 AND id = $2", e.ID, want.ID).
			Scan(&region, &birthYear, &name, &registeredAt)
		if err != nil {
			t.Fatalf("voter %s: %v", want.ID, err)
		}
		if region != want.Region || birthYear != want.BirthYear {
			t.Errorf("voter %s = (%s, %d), want (%s, %d)", want.ID, region, birthYear, want.Region, want.BirthYear)
		}
		if name != "Voter "+want.ID {
			t.Errorf("voter %s name = %q", want.ID, name)
		}
		if !registeredAt.Before(day.Date) {
			t.Errorf("voter %s registered at %s, not before election day", want.ID, registeredAt)
		}
	}
}

func TestLoadWritesCatalog(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	e, day := writeElection(t)
	if _, err := Load(ctx, pool, e, day, nil); err != nil {
		t.Fatalf("Load: %v", err)
	}

	var name string
	var date time.Time
	if err := pool.QueryRow(ctx, "SELECT name, election_date FROM elections WHERE id = $1", e.ID).Scan(&name, &date); err != nil {
		t.Fatal(err)
	}
	if name != e.ID || !date.Equal(day.Date) {
		t.Errorf("election row = (%q, %s), want (%q, %s)", name, date, e.ID, day.Date)
	}

	regions := []struct {
		code       string
		name       string
		registered *int64
		valid      *int64
	}{
		{"R1", "Ashby, North", ptr(20), ptr(8)},
		{"R2", "Été-sur-Mer", nil, ptr(3)},
		{"R3", "Empty Vale", nil, nil},
	}
	for _, want := range regions {
		var got struct {
			name              string
			registered, valid *int64
		}
		err := pool.QueryRow(ctx, "SELECT name, registered_voters, valid_votes FROM regions WHERE election_id = $1 AND code = $2", e.ID, want.code).
			Scan(&got.name, &got.registered, &got.valid)
		if err != nil {
			t.Fatalf("region %s: %v", want.code, err)
		}
		if got.name != want.name {
			t.Errorf("region %s name = %q, want %q", want.code, got.name, want.name)
		}
		if !equalPtr(got.registered, want.registered) {
			t.Errorf("region %s registered_voters = %v, want %v", want.code, deref(got.registered), deref(want.registered))
		}
		if !equalPtr(got.valid, want.valid) {
			t.Errorf("region %s valid_votes = %v, want %v", want.code, deref(got.valid), deref(want.valid))
		}
	}

	for _, c := range e.Candidates {
		var name, party string
		if err := pool.QueryRow(ctx, "SELECT name, party FROM candidates WHERE election_id = $1 AND id = $2", e.ID, c.ID).Scan(&name, &party); err != nil {
			t.Fatalf("candidate %s: %v", c.ID, err)
		}
		if name != c.Name || party != c.Party {
			t.Errorf("candidate %s = (%q, %q), want (%q, %q)", c.ID, name, party, c.Name, c.Party)
		}
	}
}

func TestLoadTwiceIsNoOp(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	e, day := writeElection(t)
	if _, err := Load(ctx, pool, e, day, nil); err != nil {
		t.Fatalf("first Load: %v", err)
	}

	stats, err := Load(ctx, pool, e, day, nil)
	if err != nil {
		t.Fatalf("second Load: %v", err)
	}
	if stats.VotersCopied != 0 || stats.PartialDeleted != 0 {
		t.Errorf("second Load stats = %+v, want nothing copied or deleted", stats)
	}
	if stats.Voters != 11 {
		t.Errorf("second Load stats.Voters = %d, want 11", stats.Voters)
	}
	assertVoterCount(t, pool, e.ID, 11)
}

func TestLoadReplacesPartialLoad(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	e, day := writeElection(t)
	if _, err := Load(ctx, pool, e, day, nil); err != nil {
		t.Fatalf("first Load: %v", err)
	}
	// Leave 4 of 11 voters, as a load written in pieces and killed would.
	if _, err := pool.Exec(ctx, "DELETE FROM voters WHERE election_id = $1 AND id::int > 4", e.ID); err != nil {
		t.Fatal(err)
	}

	stats, err := Load(ctx, pool, e, day, nil)
	if err != nil {
		t.Fatalf("Load after partial: %v", err)
	}
	if stats.PartialDeleted != 4 || stats.VotersCopied != 11 {
		t.Errorf("stats = %+v, want 4 deleted and 11 copied", stats)
	}
	assertVoterCount(t, pool, e.ID, 11)
}

func TestLoadKeepsOtherElections(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	e, day := writeElection(t)
	if _, err := Load(ctx, pool, e, day, nil); err != nil {
		t.Fatalf("Load: %v", err)
	}
	other := *e
	other.ID = "other-2024"
	stats, err := Load(ctx, pool, &other, day, nil)
	if err != nil {
		t.Fatalf("Load of a second election: %v", err)
	}
	if stats.RebuiltPrimaryKey {
		t.Error("RebuiltPrimaryKey = true for the second election")
	}
	assertVoterCount(t, pool, e.ID, 11)
	assertVoterCount(t, pool, other.ID, 11)

	// The primary key exists after both paths.
	var hasKey bool
	if err := pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'voters_pkey')").Scan(&hasKey); err != nil {
		t.Fatal(err)
	}
	if !hasKey {
		t.Error("voters_pkey is missing after Load")
	}
}

func TestLoadCancelledLeavesNothing(t *testing.T) {
	pool := newPool(t)
	e, day := writeElection(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Load(ctx, pool, e, day, nil); err == nil {
		t.Fatal("Load with a cancelled context succeeded")
	}
	var elections int
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM elections").Scan(&elections); err != nil {
		t.Fatal(err)
	}
	if elections != 0 {
		t.Errorf("elections has %d rows after a cancelled Load, want 0", elections)
	}
}

func assertVoterCount(t *testing.T, pool *pgxpool.Pool, electionID string, want int64) {
	t.Helper()
	var got int64
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM voters WHERE election_id = $1", electionID).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("election %s has %d voters, want %d", electionID, got, want)
	}
}

func ptr(n int64) *int64 { return &n }

func equalPtr(a, b *int64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}
