package lake

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/votestream/votestream/glue"
	"github.com/votestream/votestream/internal/election"
)

// testRow is a lake row with only the columns these tests vary.
type testRow struct {
	voteID, voterKey, candidate, party, region, status, reason string
	partition                                                  int
	offset                                                     int64
}

// writeParquet writes rows as one Parquet file in the Firehose layout with
// DuckDB's own writer, with every column of glue.Columns.
func writeParquet(t *testing.T, bucketDir, electionID, hour string, rows []testRow) {
	t.Helper()
	dir := filepath.Join(VotesDir(bucketDir), "election_id="+electionID, "dt=2024-11-05", "hour="+hour)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	var values []string
	for _, r := range rows {
		values = append(values, fmt.Sprintf(
			"('%s','%s','c','%s','%s','%s','Region %s','35-44','in_person',TIMESTAMP '2024-11-05 %s:00:00','%s','%s','votes_topic',%d,%d,TIMESTAMP '2024-11-05 %s:00:01')",
			r.voteID, r.voterKey, r.candidate, r.party, r.region, r.region, hour, r.status, r.reason, r.partition, r.offset, hour))
	}
	var names []string
	for _, c := range glue.Columns {
		names = append(names, c.Name)
	}
	file := filepath.Join(dir, fmt.Sprintf("part-%d.parquet", len(rows)))
	query := fmt.Sprintf("COPY (SELECT * FROM (VALUES %s) AS t(%s)) TO %s (FORMAT parquet)",
		strings.Join(values, ","), strings.Join(names, ","), quote(file))
	if _, err := db.Exec(query); err != nil {
		t.Fatal(err)
	}
}

func accepted(voteID, voter, candidate, region string, partition int, offset int64) testRow {
	return testRow{voteID: voteID, voterKey: voter, candidate: candidate, party: "P-" + candidate, region: region,
		status: glue.StatusAccepted, partition: partition, offset: offset}
}

func TestOpenEmptyLake(t *testing.T) {
	_, err := Open(context.Background(), t.TempDir())
	if !errors.Is(err, ErrEmpty) {
		t.Errorf("Open on an empty directory: err = %v, want ErrEmpty", err)
	}
}

func TestValidVotesRemovesCopiesAndSecondBallots(t *testing.T) {
	ctx := context.Background()
	bucket := t.TempDir()
	writeParquet(t, bucket, "e1", "10", []testRow{
		accepted("v1", "k1", "Ann", "R1", 0, 1),
		accepted("v2", "k2", "Bob", "R1", 1, 1),
		// A second ballot by voter k1, later in the same partition.
		accepted("v3", "k1", "Bob", "R1", 0, 7),
		{voteID: "v4", voterKey: "k4", candidate: "", party: "", region: "", status: glue.StatusRejected, reason: glue.ReasonUnknownVoter},
	})
	writeParquet(t, bucket, "e1", "11", []testRow{
		// A redelivery of v2 read at another offset, and a resend of v1.
		accepted("v2", "k2", "Bob", "R1", 1, 9),
		accepted("v1", "k1", "Ann", "R1", 0, 1),
		accepted("v5", "k5", "Ann", "R2", 2, 3),
	})
	writeParquet(t, bucket, "e2", "10", []testRow{accepted("w1", "k1", "Zed", "R1", 0, 1)})

	l, err := Open(ctx, bucket)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	counts, err := l.Count(ctx, "e1")
	if err != nil {
		t.Fatal(err)
	}
	if counts.Rows != 7 {
		t.Errorf("Rows = %d, want 7", counts.Rows)
	}
	if counts.Unique != 5 {
		t.Errorf("Unique = %d, want 5", counts.Unique)
	}
	if counts.Valid != 3 {
		t.Errorf("Valid = %d, want 3", counts.Valid)
	}
	if got := counts.Rejected[glue.ReasonUnknownVoter]; got != 1 {
		t.Errorf("Rejected[unknown_voter] = %d, want 1", got)
	}
	if got := counts.Rejected["duplicate_voter"]; got != 1 {
		t.Errorf("Rejected[duplicate_voter] = %d, want 1", got)
	}

	results, err := l.ResultsByRegion(ctx, "e1")
	if err != nil {
		t.Fatal(err)
	}
	want := []RegionResult{
		{RegionCode: "R1", RegionName: "Region R1", Candidate: "Ann", Party: "P-Ann", Votes: 1},
		{RegionCode: "R1", RegionName: "Region R1", Candidate: "Bob", Party: "P-Bob", Votes: 1},
		{RegionCode: "R2", RegionName: "Region R2", Candidate: "Ann", Party: "P-Ann", Votes: 1},
	}
	if fmt.Sprint(results) != fmt.Sprint(want) {
		t.Errorf("ResultsByRegion =\n%v\nwant\n%v", results, want)
	}
}

func TestCompare(t *testing.T) {
	official := []election.Result{
		{RegionCode: "R1", Candidate: "Greg Smith", Party: "Conservative", Votes: 3},
		{RegionCode: "R1", Candidate: "Greg Smith", Party: "Green", Votes: 2},
		{RegionCode: "R2", Candidate: "Ann", Party: "X", Votes: 1},
	}
	cases := []struct {
		name      string
		lake      []RegionResult
		wantDiffs int
	}{
		{"equal", []RegionResult{
			{RegionCode: "R1", Candidate: "Greg Smith", Party: "Conservative", Votes: 3},
			{RegionCode: "R1", Candidate: "Greg Smith", Party: "Green", Votes: 2},
			{RegionCode: "R2", Candidate: "Ann", Party: "X", Votes: 1},
		}, 0},
		{"parties swapped", []RegionResult{
			{RegionCode: "R1", Candidate: "Greg Smith", Party: "Conservative", Votes: 2},
			{RegionCode: "R1", Candidate: "Greg Smith", Party: "Green", Votes: 3},
			{RegionCode: "R2", Candidate: "Ann", Party: "X", Votes: 1},
		}, 2},
		{"row missing from lake", []RegionResult{
			{RegionCode: "R1", Candidate: "Greg Smith", Party: "Conservative", Votes: 3},
			{RegionCode: "R1", Candidate: "Greg Smith", Party: "Green", Votes: 2},
		}, 1},
		{"extra row in lake", []RegionResult{
			{RegionCode: "R1", Candidate: "Greg Smith", Party: "Conservative", Votes: 3},
			{RegionCode: "R1", Candidate: "Greg Smith", Party: "Green", Votes: 2},
			{RegionCode: "R2", Candidate: "Ann", Party: "X", Votes: 1},
			{RegionCode: "R3", Candidate: "Ann", Party: "X", Votes: 1},
		}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmp := Compare(official, tc.lake)
			if len(cmp.Diffs) != tc.wantDiffs {
				t.Errorf("Diffs = %+v, want %d", cmp.Diffs, tc.wantDiffs)
			}
			if cmp.Matches() != (tc.wantDiffs == 0) {
				t.Errorf("Matches = %v with %d diffs", cmp.Matches(), len(cmp.Diffs))
			}
		})
	}
}
