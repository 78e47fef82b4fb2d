package query

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/athena"
)

// fakeAthena serves the Athena JSON 1.1 protocol on 127.0.0.1 for one query:
// it reports RUNNING for the first polls, then the final state, and returns
// the rows in pages of at most the requested MaxResults, the header row first.
type fakeAthena struct {
	t *testing.T

	columns       []map[string]string // ColumnInfo: Name and Type
	rows          [][]*string         // data rows; nil is NULL
	statementType string
	runningPolls  int
	finalState    string
	reason        string

	mu         sync.Mutex
	started    map[string]any // the StartQueryExecution request
	polls      int
	pageCalls  int
	stopped    bool
	maxResults []int
}

func (f *fakeAthena) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()

	var in map[string]any
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	switch target := r.Header.Get("X-Amz-Target"); target {
	case "AmazonAthena.StartQueryExecution":
		f.started = in
		json.NewEncoder(w).Encode(map[string]any{"QueryExecutionId": "q-1"})
	case "AmazonAthena.GetQueryExecution":
		f.polls++
		state := "RUNNING"
		if f.polls > f.runningPolls {
			state = f.finalState
		}
		status := map[string]any{"State": state}
		if f.reason != "" {
			status["StateChangeReason"] = f.reason
		}
		json.NewEncoder(w).Encode(map[string]any{"QueryExecution": map[string]any{
			"QueryExecutionId": "q-1", "StatementType": f.statementType, "Status": status,
		}})
	case "AmazonAthena.GetQueryResults":
		f.pageCalls++
		max := int(in["MaxResults"].(float64))
		f.maxResults = append(f.maxResults, max)
		all := f.allRows()
		start := 0
		if tok, ok := in["NextToken"].(string); ok {
			start, _ = strconv.Atoi(strings.TrimPrefix(tok, "page-"))
		}
		end := min(start+max, len(all))
		out := map[string]any{"ResultSet": map[string]any{
			"Rows":              all[start:end],
			"ResultSetMetadata": map[string]any{"ColumnInfo": f.columns},
		}}
		if end < len(all) {
			out["NextToken"] = fmt.Sprintf("page-%d", end)
		}
		json.NewEncoder(w).Encode(out)
	case "AmazonAthena.StopQueryExecution":
		f.stopped = true
		json.NewEncoder(w).Encode(map[string]any{})
	default:
		f.t.Errorf("unexpected X-Amz-Target %q", target)
		http.Error(w, "unknown target", http.StatusBadRequest)
	}
}

// allRows returns the result rows as Athena sends them: the header row first
// for DML, then the data, with NULL as a Datum without VarCharValue.
func (f *fakeAthena) allRows() []map[string]any {
	var rows []map[string]any
	if f.statementType == "DML" {
		var data []map[string]any
		for _, c := range f.columns {
			data = append(data, map[string]any{"VarCharValue": c["Name"]})
		}
		rows = append(rows, map[string]any{"Data": data})
	}
	for _, row := range f.rows {
		var data []map[string]any
		for _, v := range row {
			if v == nil {
				data = append(data, map[string]any{})
			} else {
				data = append(data, map[string]any{"VarCharValue": *v})
			}
		}
		rows = append(rows, map[string]any{"Data": data})
	}
	return rows
}

func newAthenaClient(t *testing.T, f *fakeAthena) *athena.Client {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return athena.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	}, func(o *athena.Options) { o.BaseEndpoint = aws.String(srv.URL) })
}

var fastPolls = AthenaOptions{WorkGroup: "votestream", Database: "votestream", PollInterval: time.Millisecond, MaxPollInterval: 4 * time.Millisecond, PageSize: 3}

func resultsFake(t *testing.T, rows int) *fakeAthena {
	f := &fakeAthena{
		t:             t,
		columns:       []map[string]string{{"Name": "region_code", "Type": "varchar"}, {"Name": "votes", "Type": "bigint"}},
		statementType: "DML",
		runningPolls:  2,
		finalState:    "SUCCEEDED",
	}
	for i := range rows {
		code, votes := fmt.Sprintf("R%02d", i), strconv.Itoa(i*10)
		f.rows = append(f.rows, []*string{&code, &votes})
	}
	if rows > 0 {
		f.rows[rows-1][1] = nil
	}
	return f
}

func TestRunAthenaPagesThroughResults(t *testing.T) {
	for _, rows := range []int{0, 1, 2, 3, 7, 9} {
		t.Run(fmt.Sprintf("%d rows", rows), func(t *testing.T) {
			f := resultsFake(t, rows)
			stmt := Statement{SQL: "SELECT region_code, votes FROM turnout_by_region WHERE election_id = 'e1'"}
			r, err := RunAthena(context.Background(), newAthenaClient(t, f), fastPolls, stmt)
			if err != nil {
				t.Fatal(err)
			}

			if got := f.started["QueryString"]; got != stmt.SQL {
				t.Errorf("QueryString = %v, want %q", got, stmt.SQL)
			}
			if got := f.started["WorkGroup"]; got != "votestream" {
				t.Errorf("WorkGroup = %v, want votestream", got)
			}
			if f.polls != 3 {
				t.Errorf("GetQueryExecution called %d times, want 3 (two RUNNING, one SUCCEEDED)", f.polls)
			}
			wantPages := max(1, (rows+1+2)/3) // header row plus data, 3 per page
			if f.pageCalls != wantPages {
				t.Errorf("GetQueryResults called %d times, want %d", f.pageCalls, wantPages)
			}
			if len(r.Columns) != 2 || r.Columns[0] != (Column{"region_code", "varchar"}) || r.Columns[1] != (Column{"votes", "bigint"}) {
				t.Errorf("columns = %v", r.Columns)
			}
			if len(r.Rows) != rows {
				t.Fatalf("got %d rows, want %d: %v", len(r.Rows), rows, r.Rows)
			}
			for i, row := range r.Rows {
				want := []Cell{{Text: fmt.Sprintf("R%02d", i)}, {Text: strconv.Itoa(i * 10)}}
				if i == rows-1 {
					want[1] = Cell{Null: true}
				}
				if row[0] != want[0] || row[1] != want[1] {
					t.Errorf("row %d = %v, want %v", i, row, want)
				}
			}
		})
	}
}

func TestRunAthenaLimitStopsPaging(t *testing.T) {
	f := resultsFake(t, 20)
	r, err := RunAthena(context.Background(), newAthenaClient(t, f), fastPolls, Statement{SQL: "SELECT * FROM votes", Limit: 4})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Rows) != 4 || !r.Truncated {
		t.Errorf("got %d rows, truncated %v; want 4, true", len(r.Rows), r.Truncated)
	}
	if f.pageCalls != 2 {
		t.Errorf("GetQueryResults called %d times, want 2", f.pageCalls)
	}
}

func TestRunAthenaDDLKeepsFirstRow(t *testing.T) {
	f := &fakeAthena{t: t, columns: []map[string]string{{"Name": "tab_name", "Type": "string"}}, statementType: "DDL", finalState: "SUCCEEDED"}
	for _, name := range []string{"tab_name", "votes"} {
		f.rows = append(f.rows, []*string{aws.String(name)})
	}
	r, err := RunAthena(context.Background(), newAthenaClient(t, f), fastPolls, Statement{SQL: "SHOW TABLES"})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Rows) != 2 || r.Rows[0][0].Text != "tab_name" {
		t.Errorf("rows = %v, want both rows of the DDL result", r.Rows)
	}
}

func TestRunAthenaReportsFailure(t *testing.T) {
	for _, state := range []string{"FAILED", "CANCELLED"} {
		t.Run(state, func(t *testing.T) {
			f := resultsFake(t, 1)
			f.finalState, f.reason = state, "CONSTRAINT_VIOLATION: the WHERE clause must contain election_id"
			_, err := RunAthena(context.Background(), newAthenaClient(t, f), fastPolls, Statement{SQL: "SELECT * FROM votes"})
			if err == nil {
				t.Fatal("RunAthena returned no error")
			}
			if !strings.Contains(err.Error(), f.reason) || !strings.Contains(err.Error(), strings.ToLower(state)) {
				t.Errorf("error %q does not name the state and the reason", err)
			}
			if f.pageCalls != 0 {
				t.Errorf("GetQueryResults called %d times after %s", f.pageCalls, state)
			}
		})
	}
}

func TestRunAthenaTimeoutStopsQuery(t *testing.T) {
	f := resultsFake(t, 1)
	f.runningPolls = 1 << 30
	opts := fastPolls
	opts.Timeout = 50 * time.Millisecond
	_, err := RunAthena(context.Background(), newAthenaClient(t, f), opts, Statement{SQL: "SELECT * FROM votes"})
	if err == nil || !strings.Contains(err.Error(), "still RUNNING") {
		t.Fatalf("error = %v, want a timeout while RUNNING", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.stopped {
		t.Error("StopQueryExecution was not called after the timeout")
	}
}
