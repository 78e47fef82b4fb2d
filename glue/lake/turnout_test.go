package lake

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/votestream/votestream/glue"
	"github.com/votestream/votestream/glue/regions"
)

// turnoutRow is one row of turnout_by_region.
type turnoutRow struct {
	registered, ballotsCast, validVotes sql.NullInt64
	votes                               int64
	turnout, officialTurnout            sql.NullFloat64
}

// TestTurnoutByRegionMatchesGo checks turnout_by_region against counts
// computed in Go. The lake has redeliveries, second ballots of a voter and
// rejected ballots. In the regions file, one region has no registration
// figure, one has no ballots and one has zero registered voters.
func TestTurnoutByRegionMatchesGo(t *testing.T) {
	ctx := context.Background()
	bucket := t.TempDir()
	dir := filepath.Join(VotesDir(bucket), "election_id=e1", "dt=2024-11-05", "hour=10")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}

	// Voter i votes in region R(i%3) of e1. Every fifth voter votes twice,
	// every seventh ballot is redelivered, and every eleventh voter's ballot
	// is rejected by enrichment.
	validPerRegion := map[string]int64{}
	var values []string
	offset := 0
	row := func(voteID, voter, region, status string) string {
		offset++
		reason := ""
		if status == glue.StatusRejected {
			reason = glue.ReasonUnknownCandidate
		}
		return fmt.Sprintf("('%s','%s','c1','Ann','P','%s','Region %s','25-34','in_person',TIMESTAMP '2024-11-05 10:00:00','%s','%s','votes_topic',0,%d,TIMESTAMP '2024-11-05 10:00:00')",
			voteID, voter, region, region, status, reason, offset)
	}
	for i := range 120 {
		region := fmt.Sprintf("R%d", i%3)
		voter := fmt.Sprintf("k%d", i)
		status := glue.StatusAccepted
		if i%11 == 0 {
			status = glue.StatusRejected
		}
		first := row(fmt.Sprintf("v%d", i), voter, region, status)
		values = append(values, first)
		if i%7 == 0 {
			values = append(values, first)
		}
		if i%5 == 0 {
			values = append(values, row(fmt.Sprintf("v%d-second", i), voter, region, glue.StatusAccepted))
		}
		// A rejected first ballot leaves the voter's second ballot as the
		// first accepted one, which valid_votes counts.
		if status == glue.StatusAccepted || i%5 == 0 {
			validPerRegion[region]++
		}
	}
	writeRows(t, filepath.Join(dir, "part.parquet"), values)

	n := func(v int64) *int64 { return &v }
	regionRows := []glue.RegionRow{
		{ElectionID: "e1", RegionCode: "R0", RegionName: "Region R0", RegisteredVoters: n(100), BallotsCast: n(60), ValidVotes: n(58)},
		{ElectionID: "e1", RegionCode: "R1", RegionName: "Region R1", BallotsCast: n(45)},
		{ElectionID: "e1", RegionCode: "R2", RegionName: "Region R2", RegisteredVoters: n(0)},
		{ElectionID: "e1", RegionCode: "R3", RegionName: "Region R3", RegisteredVoters: n(10), BallotsCast: n(0), ValidVotes: n(0)},
	}
	if _, err := regions.WriteLake(bucket, "e1", regionRows); err != nil {
		t.Fatal(err)
	}

	want := map[string]turnoutRow{}
	for _, r := range regionRows {
		w := turnoutRow{votes: validPerRegion[r.RegionCode]}
		if r.RegisteredVoters != nil {
			w.registered = sql.NullInt64{Int64: *r.RegisteredVoters, Valid: true}
			if *r.RegisteredVoters > 0 {
				w.turnout = sql.NullFloat64{Float64: float64(w.votes) / float64(*r.RegisteredVoters), Valid: true}
				if r.BallotsCast != nil {
					w.officialTurnout = sql.NullFloat64{Float64: float64(*r.BallotsCast) / float64(*r.RegisteredVoters), Valid: true}
				}
			}
		}
		if r.BallotsCast != nil {
			w.ballotsCast = sql.NullInt64{Int64: *r.BallotsCast, Valid: true}
		}
		if r.ValidVotes != nil {
			w.validVotes = sql.NullInt64{Int64: *r.ValidVotes, Valid: true}
		}
		want[r.RegionCode] = w
	}

	l, err := Open(ctx, bucket)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	rows, err := l.DB().QueryContext(ctx, `SELECT region_code, registered_voters, official_ballots_cast, official_valid_votes, votes, turnout, official_turnout
FROM turnout_by_region WHERE election_id = 'e1'`)
	if err != nil {
		t.Fatalf("query turnout_by_region: %v", err)
	}
	defer rows.Close()
	got := map[string]turnoutRow{}
	for rows.Next() {
		var code string
		var r turnoutRow
		if err := rows.Scan(&code, &r.registered, &r.ballotsCast, &r.validVotes, &r.votes, &r.turnout, &r.officialTurnout); err != nil {
			t.Fatal(err)
		}
		got[code] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}

	if len(got) != len(want) {
		t.Errorf("turnout_by_region has %d regions, want %d", len(got), len(want))
	}
	for code, w := range want {
		if g, ok := got[code]; !ok {
			t.Errorf("region %s missing from turnout_by_region", code)
		} else if g != w {
			t.Errorf("region %s = %+v, want %+v", code, g, w)
		}
	}
}

// TestTurnoutByRegionWithoutRegionsFile checks that a lake without regions
// files still defines turnout_by_region, empty.
func TestTurnoutByRegionWithoutRegionsFile(t *testing.T) {
	ctx := context.Background()
	bucket := t.TempDir()
	dir := filepath.Join(VotesDir(bucket), "election_id=e1", "dt=2024-11-05", "hour=10")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeRows(t, filepath.Join(dir, "part.parquet"), []string{
		"('v1','k1','c1','Ann','P','R0','Region','25-34','in_person',TIMESTAMP '2024-11-05 10:00:00','accepted','','votes_topic',0,1,TIMESTAMP '2024-11-05 10:00:00')",
	})

	l, err := Open(ctx, bucket)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var count int64
	if err := l.DB().QueryRowContext(ctx, "SELECT count(*) FROM turnout_by_region").Scan(&count); err != nil {
		t.Fatalf("query turnout_by_region: %v", err)
	}
	if count != 0 {
		t.Errorf("turnout_by_region has %d rows without a regions file, want 0", count)
	}
}
