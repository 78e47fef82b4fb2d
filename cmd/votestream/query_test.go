package main

import (
	"bytes"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/votestream/votestream"
	"github.com/votestream/votestream/firehose"
	"github.com/votestream/votestream/glue"
	"github.com/votestream/votestream/glue/lake"
)

// writeStateLake writes ballots of election e1 into the lake of a state
// directory where votestream demo would put them, and returns the directory.
// Ballot i is for candidate C<i%2> in region R<i%3>.
func writeStateLake(t *testing.T, ballots int) string {
	t.Helper()
	stateDir := t.TempDir()
	tmpl, err := firehose.ParseTemplate(votestream.SAMTemplate)
	if err != nil {
		t.Fatal(err)
	}
	bucketDir := filepath.Join(stateDir, "lake", tmpl.Streams[0].Bucket)
	dir := filepath.Join(lake.VotesDir(bucketDir), "election_id=e1", "dt=2024-11-05", "hour=10")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}

	var values, names []string
	for i := range ballots {
		values = append(values, fmt.Sprintf("('v%d','k%d','c%d','C%d','P%d','R%d','Region %d','25-34','in_person',TIMESTAMP '2024-11-05 10:00:00','accepted','','votes_topic',0,%d,TIMESTAMP '2024-11-05 10:00:00')",
			i, i, i%2, i%2, i%2, i%3, i%3, i))
	}
	for _, c := range glue.Columns {
		names = append(names, c.Name)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(fmt.Sprintf("COPY (SELECT * FROM (VALUES %s) AS t(%s)) TO '%s' (FORMAT parquet)",
		strings.Join(values, ","), strings.Join(names, ","), filepath.Join(dir, "part.parquet"))); err != nil {
		t.Fatal(err)
	}
	return stateDir
}

func TestQueryLocalViewAsCSV(t *testing.T) {
	stateDir := writeStateLake(t, 12)
	var stdout, stderr bytes.Buffer
	code := run([]string{"query", "--state-dir", stateDir, "--election", "e1", "--format", "csv", "results_by_region"}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit code = %d, stderr: %s", code, stderr.String())
	}
	records, err := csv.NewReader(&stdout).ReadAll()
	if err != nil {
		t.Fatalf("output is not CSV: %v", err)
	}
	// 3 regions times 2 candidates, each pair with 2 of the 12 ballots.
	if len(records) != 1+6 {
		t.Fatalf("got %d records, want a header and 6 rows:\n%v", len(records), records)
	}
	for _, r := range records[1:] {
		if r[len(r)-1] != "2" {
			t.Errorf("row %v has %s votes, want 2", r, r[len(r)-1])
		}
	}
}

func TestQueryLocalSQLWithLimit(t *testing.T) {
	stateDir := writeStateLake(t, 12)
	var stdout, stderr bytes.Buffer
	code := run([]string{"query", "--state-dir", stateDir, "--format", "json", "--limit", "2", "SELECT vote_id FROM votes ORDER BY kafka_offset"}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit code = %d, stderr: %s", code, stderr.String())
	}
	var rows []map[string]string
	if err := json.Unmarshal(stdout.Bytes(), &rows); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, stdout.String())
	}
	if len(rows) != 2 || rows[0]["vote_id"] != "v0" || rows[1]["vote_id"] != "v1" {
		t.Errorf("rows = %v, want v0 and v1", rows)
	}
	if !strings.Contains(stderr.String(), "raise --limit") {
		t.Errorf("stderr %q does not say that rows were left out", stderr.String())
	}
}

func TestQueryErrors(t *testing.T) {
	stateDir := writeStateLake(t, 3)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown view", []string{"--state-dir", stateDir, "tallies"}, "turnout_by_region"},
		{"bad format", []string{"--state-dir", stateDir, "--format", "yaml", "valid_votes"}, "use table, csv or json"},
		{"empty lake", []string{"--state-dir", t.TempDir(), "valid_votes"}, "run 'votestream demo"},
		{"no argument", []string{"--state-dir", stateDir}, "missing VIEW or SQL"},
		{"athena view without election", []string{"--athena", "--region", "us-east-1", "valid_votes"}, "--election is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"query"}, tt.args...), &stdout, &stderr)
			if code != exitUsage {
				t.Errorf("exit code = %d, want %d", code, exitUsage)
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tt.want)
			}
		})
	}
}

// TestQueryAthenaAsTable runs a view through --athena against a fake Athena
// on 127.0.0.1 that succeeds at once and returns one page.
func TestQueryAthenaAsTable(t *testing.T) {
	var started map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in map[string]any
		json.NewDecoder(r.Body).Decode(&in)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		switch r.Header.Get("X-Amz-Target") {
		case "AmazonAthena.StartQueryExecution":
			started = in
			fmt.Fprint(w, `{"QueryExecutionId":"q-9"}`)
		case "AmazonAthena.GetQueryExecution":
			fmt.Fprint(w, `{"QueryExecution":{"QueryExecutionId":"q-9","StatementType":"DML","Status":{"State":"SUCCEEDED"}}}`)
		case "AmazonAthena.GetQueryResults":
			fmt.Fprint(w, `{"ResultSet":{"ResultSetMetadata":{"ColumnInfo":[{"Name":"party","Type":"varchar"},{"Name":"votes","Type":"bigint"}]},
"Rows":[{"Data":[{"VarCharValue":"party"},{"VarCharValue":"votes"}]},{"Data":[{"VarCharValue":"Labour"},{"VarCharValue":"9708716"}]},{"Data":[{"VarCharValue":"Green"},{}]}]}}`)
		default:
			http.Error(w, "unexpected target", http.StatusBadRequest)
		}
	}))
	defer srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))

	var stdout, stderr bytes.Buffer
	code := run([]string{"query", "--athena", "--region", "us-east-1", "--endpoint", srv.URL, "--workgroup", "wg",
		"--election", "uk-ge-2024", "results_by_party"}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit code = %d, stderr: %s", code, stderr.String())
	}
	if want := "SELECT * FROM results_by_party WHERE election_id = 'uk-ge-2024' ORDER BY election_id, votes DESC, party"; started["QueryString"] != want {
		t.Errorf("QueryString = %v, want %q", started["QueryString"], want)
	}
	want := "party     votes\n------  -------\nLabour  9708716\nGreen      NULL\n(2 rows)\n"
	if stdout.String() != want {
		t.Errorf("output =\n%s\nwant\n%s", stdout.String(), want)
	}
}
