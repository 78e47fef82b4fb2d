package query

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/votestream/votestream/glue"
	"github.com/votestream/votestream/glue/lake"
	"github.com/votestream/votestream/glue/regions"
)

// writeLake writes a bucket directory with one Parquet file of accepted
// ballots of election e1, candidate c<i%3> in region R<i%2>, and a regions
// file, and returns the directory and the votes per candidate.
func writeLake(t *testing.T, ballots int) (string, map[string]int64) {
	t.Helper()
	bucket := t.TempDir()
	dir := filepath.Join(lake.VotesDir(bucket), "election_id=e1", "dt=2024-11-05", "hour=10")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	perCandidate := map[string]int64{}
	var values []string
	for i := range ballots {
		name := fmt.Sprintf("Cand, \"%d\"", i%3)
		values = append(values, fmt.Sprintf("('v%d','k%d','c%d','%s','P%d','R%d','Region','25-34','in_person',TIMESTAMP '2024-11-05 10:%02d:00','accepted','','votes_topic',0,%d,TIMESTAMP '2024-11-05 10:00:00')",
			i, i, i%3, name, i%3, i%2, i%60, i))
		perCandidate[name]++
	}
	var names []string
	for _, c := range glue.Columns {
		names = append(names, c.Name)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	file := strings.ReplaceAll(filepath.Join(dir, "part.parquet"), "'", "''")
	if _, err := db.Exec(fmt.Sprintf("COPY (SELECT * FROM (VALUES %s) AS t(%s)) TO '%s' (FORMAT parquet)",
		strings.Join(values, ","), strings.Join(names, ","), file)); err != nil {
		t.Fatal(err)
	}

	registered := int64(40)
	if _, err := regions.WriteLake(bucket, "e1", []glue.RegionRow{
		{ElectionID: "e1", RegionCode: "R0", RegionName: "Region", RegisteredVoters: &registered},
		{ElectionID: "e1", RegionCode: "R1", RegionName: "Region"},
	}); err != nil {
		t.Fatal(err)
	}
	return bucket, perCandidate
}

func openLake(t *testing.T, bucket string) *lake.Lake {
	t.Helper()
	l, err := lake.Open(context.Background(), bucket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestRunLocalViewInEveryFormat(t *testing.T) {
	bucket, perCandidate := writeLake(t, 31)
	l := openLake(t, bucket)
	stmt, err := Build("results_by_candidate", "e1", 0)
	if err != nil {
		t.Fatal(err)
	}
	r, err := RunLocal(context.Background(), l.DB(), stmt)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("csv", func(t *testing.T) {
		var out bytes.Buffer
		if err := Write(&out, r, FormatCSV); err != nil {
			t.Fatal(err)
		}
		records, err := csv.NewReader(&out).ReadAll()
		if err != nil {
			t.Fatalf("output is not CSV: %v\n%s", err, out.String())
		}
		if strings.Join(records[0], ",") != "election_id,candidate_id,candidate_name,party,votes" {
			t.Errorf("header = %v", records[0])
		}
		got := map[string]int64{}
		for _, rec := range records[1:] {
			var n int64
			fmt.Sscan(rec[4], &n)
			got[rec[2]] += n
		}
		if fmt.Sprint(got) != fmt.Sprint(perCandidate) {
			t.Errorf("votes per candidate = %v, want %v", got, perCandidate)
		}
	})

	t.Run("json", func(t *testing.T) {
		var out bytes.Buffer
		if err := Write(&out, r, FormatJSON); err != nil {
			t.Fatal(err)
		}
		var objects []map[string]any
		if err := json.Unmarshal(out.Bytes(), &objects); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, out.String())
		}
		got := map[string]int64{}
		for _, o := range objects {
			votes, ok := o["votes"].(float64)
			if !ok {
				t.Fatalf("votes is %T, want a JSON number", o["votes"])
			}
			got[o["candidate_name"].(string)] += int64(votes)
		}
		if fmt.Sprint(got) != fmt.Sprint(perCandidate) {
			t.Errorf("votes per candidate = %v, want %v", got, perCandidate)
		}
		// results_by_candidate's OrderBy puts the most votes first.
		if objects[0]["votes"].(float64) < objects[len(objects)-1]["votes"].(float64) {
			t.Errorf("rows are not ordered by votes descending: %s", out.String())
		}
	})

	t.Run("table", func(t *testing.T) {
		var out bytes.Buffer
		if err := Write(&out, r, FormatTable); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if len(lines) != 2+len(perCandidate)+1 {
			t.Fatalf("table has %d lines, want header, rule, %d rows and a count:\n%s", len(lines), len(perCandidate), out.String())
		}
		if lines[len(lines)-1] != "(3 rows)" {
			t.Errorf("last line = %q, want (3 rows)", lines[len(lines)-1])
		}
		for _, line := range lines[2 : len(lines)-1] {
			if len(line) != len(lines[1]) {
				t.Errorf("row %q is not as wide as the rule %q", line, lines[1])
			}
		}
	})
}

func TestRunLocalNullsAndTimestamps(t *testing.T) {
	bucket, _ := writeLake(t, 4)
	l := openLake(t, bucket)
	r, err := RunLocal(context.Background(), l.DB(), Statement{SQL: "SELECT region_code, registered_voters, turnout FROM turnout_by_region ORDER BY region_code"})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]Cell{
		{{Text: "R0"}, {Text: "40"}, {Text: "0.05"}},
		{{Text: "R1"}, {Null: true}, {Null: true}},
	}
	if fmt.Sprint(r.Rows) != fmt.Sprint(want) {
		t.Errorf("rows = %v, want %v", r.Rows, want)
	}

	r, err = RunLocal(context.Background(), l.DB(), Statement{SQL: "SELECT min(cast_at) FROM votes"})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Rows[0][0].Text; got != "2024-11-05 10:00:00.000" {
		t.Errorf("timestamp printed as %q, want 2024-11-05 10:00:00.000", got)
	}
}

func TestRunLocalLimitTruncatesSQL(t *testing.T) {
	bucket, _ := writeLake(t, 10)
	l := openLake(t, bucket)
	r, err := RunLocal(context.Background(), l.DB(), Statement{SQL: "SELECT vote_id FROM votes", Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Rows) != 3 || !r.Truncated {
		t.Errorf("got %d rows, truncated %v; want 3, true", len(r.Rows), r.Truncated)
	}
}

func TestBuild(t *testing.T) {
	tests := []struct {
		target, election string
		limit            int
		want             string
		wantErr          string
	}{
		{target: "valid_votes", want: "SELECT * FROM valid_votes ORDER BY election_id, kafka_partition, kafka_offset"},
		{target: "Turnout_By_Region", election: "uk-ge-2024", limit: 5,
			want: "SELECT * FROM turnout_by_region WHERE election_id = 'uk-ge-2024' ORDER BY election_id, region_code LIMIT 5"},
		{target: "votes;", election: "e1", want: "SELECT * FROM votes WHERE election_id = 'e1'"},
		{target: "SELECT 1;", want: "SELECT 1"},
		{target: "tallies", wantErr: "unknown view \"tallies\": use one of"},
		{target: "SELECT 1", election: "e1", wantErr: "applies only to a view name"},
		{target: "votes", election: "e1' OR '1'='1", wantErr: "contains"},
		{target: "  ", wantErr: "missing view name or SQL"},
		{target: "votes", limit: -1, wantErr: "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.target+"/"+tt.election, func(t *testing.T) {
			stmt, err := Build(tt.target, tt.election, tt.limit)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if stmt.SQL != tt.want {
				t.Errorf("SQL = %q, want %q", stmt.SQL, tt.want)
			}
		})
	}
}

func TestBuildUnknownViewListsViews(t *testing.T) {
	_, err := Build("nope", "", 0)
	if !errors.Is(err, ErrUnknownView) {
		t.Fatalf("error = %v, want ErrUnknownView", err)
	}
	for _, v := range glue.Views {
		if !strings.Contains(err.Error(), v.Name) {
			t.Errorf("error %q does not list view %s", err, v.Name)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for _, s := range []string{"table", "CSV", "json"} {
		if _, err := ParseFormat(s); err != nil {
			t.Errorf("ParseFormat(%q): %v", s, err)
		}
	}
	if _, err := ParseFormat("yaml"); err == nil || !strings.Contains(err.Error(), "use table, csv or json") {
		t.Errorf("ParseFormat(yaml) error = %v", err)
	}
}
