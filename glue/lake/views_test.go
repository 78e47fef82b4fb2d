package lake

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/votestream/votestream/glue"
)

// TestTranslatedViewsMatchGo writes valid ballots at varied minutes and age
// bands, and checks votes_over_time and votes_by_age_band, as translated by
// glue.ForDuckDB, against counts computed in Go.
func TestTranslatedViewsMatchGo(t *testing.T) {
	ctx := context.Background()
	bucket := t.TempDir()
	dir := filepath.Join(VotesDir(bucket), "election_id=e1", "dt=2024-11-05", "hour=10")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}

	start := time.Date(2024, 11, 5, 10, 0, 0, 0, time.UTC)
	wantTime := map[string]int64{}
	wantAge := map[string]int64{}
	var values []string
	for i := range 97 {
		castAt := start.Add(time.Duration(i*37) * time.Second)
		region := fmt.Sprintf("R%d", i%3)
		band := glue.AgeBands[i%len(glue.AgeBands)]
		values = append(values, fmt.Sprintf(
			"('v%d','k%d','c','Ann','P','%s','Region','%s','in_person',TIMESTAMP '%s','accepted','','votes_topic',0,%d,TIMESTAMP '%s')",
			i, i, region, band, castAt.Format("2006-01-02 15:04:05"), i, castAt.Format("2006-01-02 15:04:05")))
		wantTime[region+" "+castAt.Truncate(15*time.Minute).Format("15:04")]++
		wantAge[region+" "+band]++
	}
	writeRows(t, filepath.Join(dir, "part.parquet"), values)

	l, err := Open(ctx, bucket)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	gotTime := map[string]int64{}
	rows, err := l.DB().QueryContext(ctx, "SELECT region_code, strftime(bucket_start, '%H:%M'), votes FROM votes_over_time WHERE election_id = 'e1'")
	if err != nil {
		t.Fatalf("query votes_over_time: %v", err)
	}
	scanCounts(t, rows, gotTime)
	if !maps.Equal(gotTime, wantTime) {
		t.Errorf("votes_over_time = %v\nwant %v", gotTime, wantTime)
	}

	gotAge := map[string]int64{}
	rows, err = l.DB().QueryContext(ctx, "SELECT region_code, age_band, votes FROM votes_by_age_band WHERE election_id = 'e1'")
	if err != nil {
		t.Fatalf("query votes_by_age_band: %v", err)
	}
	scanCounts(t, rows, gotAge)
	if !maps.Equal(gotAge, wantAge) {
		t.Errorf("votes_by_age_band = %v\nwant %v", gotAge, wantAge)
	}
}

func writeRows(t *testing.T, file string, values []string) {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var names []string
	for _, c := range glue.Columns {
		names = append(names, c.Name)
	}
	query := fmt.Sprintf("COPY (SELECT * FROM (VALUES %s) AS t(%s)) TO %s (FORMAT parquet)",
		strings.Join(values, ","), strings.Join(names, ","), quote(file))
	if _, err := db.Exec(query); err != nil {
		t.Fatal(err)
	}
}

// scanCounts reads rows of two key columns and a count into counts, keyed
// by the two keys joined with a space.
func scanCounts(t *testing.T, rows *sql.Rows, counts map[string]int64) {
	t.Helper()
	defer rows.Close()
	for rows.Next() {
		var a, b string
		var n int64
		if err := rows.Scan(&a, &b, &n); err != nil {
			t.Fatal(err)
		}
		counts[a+" "+b] += n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}
