package transform

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/votestream/votestream/glue"
	"github.com/votestream/votestream/infra/loader"
	"github.com/votestream/votestream/infra/migrations"
	"github.com/votestream/votestream/internal/election"
	"github.com/votestream/votestream/internal/pgcluster/pgtest"
	"github.com/votestream/votestream/internal/vote"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

var testSecret = []byte("test-secret-of-thirty-two-bytes!")

// Election "small-2024" has candidates 1 (Anna) and 2 (Bob) and voters 1 to
// 5; "big-2024" has candidates 1 to 4, so candidate 4 belongs only to big-2024.
var testElections = map[string]string{
	"small-2024": `region_code,region_name,candidate,party,votes
R1,"Ashby, North",Anna Ñúñez,"Party ""Red""",3
R2,Été-sur-Mer,Bob O'Brien,Blue,2
`,
	"big-2024": `region_code,region_name,candidate,party,votes
B1,Big Town,C1,P1,1
B1,Big Town,C2,P2,1
B1,Big Town,C3,P3,1
B1,Big Town,C4,P4,1
`,
}

// secretVoterID is a voter inserted by hand with an id and a name that
// must never appear in the output.
const (
	secretVoterID   = "VOTER-7f3a9c-never-in-output"
	secretVoterName = "Secret Name Þorsteinsdóttir"
)

var electionDay = time.Date(2024, 7, 4, 0, 0, 0, 0, time.UTC)

// queryCounter is a pgx tracer that records the SQL of every query.
type queryCounter struct {
	mu  sync.Mutex
	sql []string
}

func (q *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.sql = append(q.sql, data.SQL)
	return ctx
}

func (q *queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// take returns the queries recorded since the last call.
func (q *queryCounter) take() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.sql
	q.sql = nil
	return out
}

type fixture struct {
	pool    *pgxpool.Pool
	queries *queryCounter
	handler *Handler
}

// newFixture loads the test elections into a fresh database and returns a
// handler whose pool counts queries.
func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	ctx := context.Background()
	url := pgtest.URL(t)

	setup, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer setup.Close()
	if _, err := migrations.Apply(ctx, setup); err != nil {
		t.Fatalf("migrations.Apply: %v", err)
	}
	dir := t.TempDir()
	for id, results := range testElections {
		path := filepath.Join(dir, id+".csv")
		if err := os.WriteFile(path, []byte(results), 0o600); err != nil {
			t.Fatal(err)
		}
		e, err := election.Load(path)
		if err != nil {
			t.Fatalf("election.Load(%s): %v", id, err)
		}
		if _, err := loader.Load(ctx, setup, e, election.Day{Date: electionDay}, nil); err != nil {
			t.Fatalf("loader.Load(%s): %v", id, err)
		}
	}
	_, err = setup.Exec(ctx, `INSERT INTO voters (election_id, id, name, birth_year, region_code, registered_at)
		VALUES ('small-2024', $1, $2, 1990, 'R1', '2024-06-01')`, secretVoterID, secretVoterName)
	if err != nil {
		t.Fatal(err)
	}

	poolConfig, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	queries := &queryCounter{}
	poolConfig.ConnConfig.Tracer = queries
	// As behind RDS Proxy or PgBouncer: no named prepared statements.
	poolConfig.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	pool, err := pgxpool.NewWithConfig(ctx, poolConfig)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)

	cfg.Pool = pool
	if cfg.VoterKeySecret == nil {
		cfg.VoterKeySecret = testSecret
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &fixture{pool: pool, queries: queries, handler: h}
}

// ballotAt returns a valid vote of voterID for candidateID cast at castAt.
func ballotAt(electionID, voterID, candidateID string, castAt time.Time) vote.Vote {
	return vote.Vote{
		VoteID:      fmt.Sprintf("00000000-0000-4000-8000-%012d", castAt.UnixMilli()%1e12),
		ElectionID:  electionID,
		VoterID:     voterID,
		CandidateID: candidateID,
		CastAt:      vote.FormatTime(castAt),
		Channel:     vote.ChannelPostal,
	}
}

var castAt = time.Date(2024, 7, 4, 9, 15, 0, 0, time.UTC)

// envelopeLine returns the JSON line of an envelope around v at offset.
func envelopeLine(t *testing.T, v vote.Vote, offset int64) string {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	line, err := json.Marshal(vote.Envelope{Topic: vote.VotesTopic, Partition: 3, Offset: offset, Timestamp: "2024-07-04T09:15:00.250Z", Vote: raw})
	if err != nil {
		t.Fatal(err)
	}
	return string(line)
}

// record returns an input record holding lines, newline-separated.
func record(id string, lines ...string) events.KinesisFirehoseEventRecord {
	return events.KinesisFirehoseEventRecord{RecordID: id, Data: []byte(strings.Join(lines, "\n") + "\n")}
}

func invoke(t *testing.T, h *Handler, records ...events.KinesisFirehoseEventRecord) events.KinesisFirehoseResponse {
	t.Helper()
	resp, err := h.Handle(context.Background(), events.KinesisFirehoseEvent{InvocationID: "inv-" + t.Name(), Records: records})
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if len(resp.Records) != len(records) {
		t.Fatalf("Handle returned %d records for %d", len(resp.Records), len(records))
	}
	return resp
}

// rowsOf decodes the rows of an Ok record.
func rowsOf(t *testing.T, r events.KinesisFirehoseResponseRecord) []glue.Row {
	t.Helper()
	if r.Result != events.KinesisFirehoseTransformedStateOk {
		t.Fatalf("record %s result = %s, want Ok", r.RecordID, r.Result)
	}
	var rows []glue.Row
	for _, line := range strings.Split(strings.TrimSuffix(string(r.Data), "\n"), "\n") {
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		var row glue.Row
		if err := dec.Decode(&row); err != nil {
			t.Fatalf("record %s line %q: %v", r.RecordID, line, err)
		}
		rows = append(rows, row)
	}
	return rows
}

func TestOutputKeysEqualGlueColumns(t *testing.T) {
	f := newFixture(t, Config{})
	resp := invoke(t, f.handler, record("r1", envelopeLine(t, ballotAt("small-2024", "1", "1", castAt), 7)))
	if resp.Records[0].Result != events.KinesisFirehoseTransformedStateOk {
		t.Fatalf("result = %s, want Ok", resp.Records[0].Result)
	}

	dec := json.NewDecoder(bytes.NewReader(bytes.TrimSpace(resp.Records[0].Data)))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, key.(string))
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			t.Fatal(err)
		}
	}
	if len(keys) != len(glue.Columns) {
		t.Fatalf("row has keys %v, want the %d Glue columns", keys, len(glue.Columns))
	}
	for i, c := range glue.Columns {
		if keys[i] != c.Name {
			t.Errorf("key %d = %q, want %q", i, keys[i], c.Name)
		}
	}
}

func TestAcceptedRowIsEnriched(t *testing.T) {
	f := newFixture(t, Config{})
	resp := invoke(t, f.handler, record("r1", envelopeLine(t, ballotAt("small-2024", "1", "1", castAt), 7)))
	rows := rowsOf(t, resp.Records[0])
	if len(rows) != 1 {
		t.Fatalf("got %d rows, want 1", len(rows))
	}
	row := rows[0]

	var birthYear int
	if err := f.pool.QueryRow(context.Background(), "SELECT birth_year FROM voters WHERE election_id = 'small-2024' AND id = '1'").Scan(&birthYear); err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, testSecret)
	mac.Write([]byte("small-2024\x001"))
	want := glue.Row{
		VoteID:         row.VoteID,
		VoterKey:       hex.EncodeToString(mac.Sum(nil)),
		CandidateID:    "1",
		CandidateName:  "Anna Ñúñez",
		Party:          `Party "Red"`,
		RegionCode:     "R1",
		RegionName:     "Ashby, North",
		AgeBand:        glue.AgeBand(2024 - birthYear),
		Channel:        vote.ChannelPostal,
		CastAt:         "2024-07-04T09:15:00.000Z",
		Status:         glue.StatusAccepted,
		KafkaTopic:     vote.VotesTopic,
		KafkaPartition: 3,
		KafkaOffset:    7,
		KafkaTimestamp: "2024-07-04T09:15:00.250Z",
	}
	if row != want {
		t.Errorf("row =\n%+v\nwant\n%+v", row, want)
	}
	if row.AgeBand == "" {
		t.Error("age_band is empty for a loaded voter")
	}

	keys := resp.Records[0].Metadata.PartitionKeys
	wantKeys := map[string]string{"election_id": "small-2024", "dt": "2024-07-04", "hour": "09"}
	if fmt.Sprint(keys) != fmt.Sprint(wantKeys) {
		t.Errorf("partition keys = %v, want %v", keys, wantKeys)
	}
}

func TestRejectedRowsCarryReason(t *testing.T) {
	tests := []struct {
		name       string
		vote       vote.Vote
		wantReason string
	}{
		{"unknown voter", ballotAt("small-2024", "999", "1", castAt), glue.ReasonUnknownVoter},
		{"unknown candidate", ballotAt("small-2024", "2", "77", castAt), glue.ReasonUnknownCandidate},
		{"candidate of other election", ballotAt("small-2024", "2", "4", castAt), glue.ReasonCandidateOtherElection},
		{"unknown election", ballotAt("missing-2024", "1", "1", castAt), glue.ReasonUnknownVoter},
	}
	f := newFixture(t, Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := invoke(t, f.handler, record("r", envelopeLine(t, tt.vote, 1)))
			rows := rowsOf(t, resp.Records[0])
			if len(rows) != 1 {
				t.Fatalf("got %d rows, want 1", len(rows))
			}
			if rows[0].Status != glue.StatusRejected {
				t.Errorf("status = %q, want %q", rows[0].Status, glue.StatusRejected)
			}
			if rows[0].Reason != tt.wantReason {
				t.Errorf("reason = %q, want %q", rows[0].Reason, tt.wantReason)
			}
			if rows[0].VoteID != tt.vote.VoteID {
				t.Errorf("vote_id = %q, want %q", rows[0].VoteID, tt.vote.VoteID)
			}
		})
	}
}

func TestRecordIDsReturnedOnceInOrder(t *testing.T) {
	f := newFixture(t, Config{})
	var records []events.KinesisFirehoseEventRecord
	for i := range 30 {
		line := envelopeLine(t, ballotAt("small-2024", fmt.Sprint(i%5+1), "2", castAt), int64(i))
		if i%7 == 3 {
			line = "{not json"
		}
		records = append(records, record(fmt.Sprintf("rec-%02d", 29-i), line))
	}
	resp := invoke(t, f.handler, records...)
	for i, r := range resp.Records {
		if r.RecordID != records[i].RecordID {
			t.Errorf("response record %d has id %q, want %q", i, r.RecordID, records[i].RecordID)
		}
		wantResult := events.KinesisFirehoseTransformedStateOk
		if i%7 == 3 {
			wantResult = events.KinesisFirehoseTransformedStateProcessingFailed
		}
		if r.Result != wantResult {
			t.Errorf("record %s result = %s, want %s", r.RecordID, r.Result, wantResult)
		}
	}
}

func TestMalformedRecordFailsOnlyItself(t *testing.T) {
	valid := ballotAt("small-2024", "1", "1", castAt)
	withChannel := valid
	withChannel.Channel = "fax"
	withOffset := valid
	withOffset.CastAt = "2024-07-04T10:15:00.000+01:00"
	noVoter := valid
	noVoter.VoterID = ""

	tests := []struct {
		name  string
		lines []string
	}{
		{"bad JSON", []string{`{"topic": "votes_topic", "vote": `}},
		{"array instead of object", []string{`[1, 2]`}},
		{"no vote field", []string{`{"topic":"votes_topic","partition":0,"offset":1,"timestamp":"2024-07-04T09:15:00.000Z"}`}},
		{"invalid channel", []string{envelopeLine(t, withChannel, 1)}},
		{"cast_at with offset", []string{envelopeLine(t, withOffset, 1)}},
		{"missing voter_id", []string{envelopeLine(t, noVoter, 1)}},
		{"bad Kafka timestamp", []string{strings.Replace(envelopeLine(t, valid, 1), "2024-07-04T09:15:00.250Z", "yesterday", 1)}},
		{"second line bad", []string{envelopeLine(t, valid, 1), "garbage"}},
		{"empty record", []string{""}},
	}
	f := newFixture(t, Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := invoke(t, f.handler,
				record("before", envelopeLine(t, valid, 1)),
				record("bad", tt.lines...),
				record("after", envelopeLine(t, valid, 2)))
			if got := resp.Records[1].Result; got != events.KinesisFirehoseTransformedStateProcessingFailed {
				t.Errorf("malformed record result = %s, want ProcessingFailed", got)
			}
			for _, i := range []int{0, 2} {
				if got := resp.Records[i].Result; got != events.KinesisFirehoseTransformedStateOk {
					t.Errorf("record %s result = %s, want Ok", resp.Records[i].RecordID, got)
				}
			}
		})
	}
}

func TestMixedPartitionKeysFailRecord(t *testing.T) {
	tests := []struct {
		name  string
		other vote.Vote
	}{
		{"other hour", ballotAt("small-2024", "2", "1", castAt.Add(time.Hour))},
		{"other day", ballotAt("small-2024", "2", "1", castAt.Add(24*time.Hour))},
		{"other election", ballotAt("big-2024", "1", "1", castAt)},
	}
	f := newFixture(t, Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first := envelopeLine(t, ballotAt("small-2024", "1", "1", castAt), 1)
			resp := invoke(t, f.handler, record("mixed", first, envelopeLine(t, tt.other, 2)))
			if got := resp.Records[0].Result; got != events.KinesisFirehoseTransformedStateProcessingFailed {
				t.Errorf("result = %s, want ProcessingFailed", got)
			}
		})
	}

	t.Run("same hour", func(t *testing.T) {
		resp := invoke(t, f.handler, record("same",
			envelopeLine(t, ballotAt("small-2024", "1", "1", castAt), 1),
			envelopeLine(t, ballotAt("small-2024", "2", "1", castAt.Add(40*time.Minute)), 2)))
		if rows := rowsOf(t, resp.Records[0]); len(rows) != 2 {
			t.Errorf("got %d rows, want 2", len(rows))
		}
	})
}

func TestBudgetFailsTrailingRecords(t *testing.T) {
	var records []events.KinesisFirehoseEventRecord
	for i := range 10 {
		records = append(records, record(fmt.Sprint("r", i), envelopeLine(t, ballotAt("small-2024", "1", "1", castAt), int64(i))))
	}

	// Measure the full response, then allow a bit more than half of it.
	unlimited := newFixture(t, Config{})
	full, err := json.Marshal(invoke(t, unlimited.handler, records...))
	if err != nil {
		t.Fatal(err)
	}
	budget := len(full)*6/10 + 1
	f := newFixture(t, Config{ResponseBudget: budget})
	resp := invoke(t, f.handler, records...)

	encoded, err := json.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	if len(encoded) > budget {
		t.Errorf("response has %d bytes, over the budget of %d", len(encoded), budget)
	}
	firstFailed := -1
	for i, r := range resp.Records {
		if r.Result == events.KinesisFirehoseTransformedStateProcessingFailed && firstFailed < 0 {
			firstFailed = i
		}
		if firstFailed >= 0 && r.Result != events.KinesisFirehoseTransformedStateProcessingFailed {
			t.Errorf("record %d is %s after failed record %d; want failures only at the end", i, r.Result, firstFailed)
		}
		if r.RecordID != records[i].RecordID {
			t.Errorf("record %d id = %q, want %q", i, r.RecordID, records[i].RecordID)
		}
	}
	if firstFailed <= 0 {
		t.Errorf("first failed record = %d, want some Ok records and then failures", firstFailed)
	}
}

func TestBudgetOfMSKResponse(t *testing.T) {
	f := newFixture(t, Config{ResponseBudget: 400})
	raw, err := json.Marshal(ballotAt("small-2024", "1", "1", castAt))
	if err != nil {
		t.Fatal(err)
	}
	ev := Event{InvocationID: "msk", Records: []EventRecord{
		{RecordID: "a", KafkaRecordValue: raw, MSKRecordMetadata: &MSKRecordMetadata{Offset: 1}},
		{RecordID: "b", KafkaRecordValue: raw, MSKRecordMetadata: &MSKRecordMetadata{Offset: 2}},
	}}
	resp, err := f.handler.HandleEvent(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	encoded, _ := json.Marshal(resp)
	if len(encoded) > 400 {
		t.Errorf("response has %d bytes, over the budget of 400", len(encoded))
	}
	if resp.Records[1].Result != events.KinesisFirehoseTransformedStateProcessingFailed {
		t.Errorf("second record result = %s, want ProcessingFailed", resp.Records[1].Result)
	}
}

func TestOneVoterQueryPerInvocation(t *testing.T) {
	f := newFixture(t, Config{})
	f.queries.take()

	var records []events.KinesisFirehoseEventRecord
	for i := range 5 {
		line := envelopeLine(t, ballotAt("small-2024", fmt.Sprint(i+1), "1", castAt), int64(i))
		other := envelopeLine(t, ballotAt("small-2024", fmt.Sprint(5-i), "2", castAt), int64(i+10))
		records = append(records, record(fmt.Sprint("s", i), line, other))
	}
	records = append(records, record("big", envelopeLine(t, ballotAt("big-2024", "2", "3", castAt), 99)))

	invoke(t, f.handler, records...)
	voterQueries := 0
	for _, sql := range f.queries.take() {
		if strings.Contains(sql, "voters") {
			voterQueries++
		}
	}
	if voterQueries != 1 {
		t.Errorf("first invocation ran %d voter queries, want 1", voterQueries)
	}

	// The catalogue is cached now; new voters cost exactly one query.
	invoke(t, f.handler,
		record("x", envelopeLine(t, ballotAt("big-2024", "1", "1", castAt), 1)),
		record("y", envelopeLine(t, ballotAt("big-2024", "4", "4", castAt), 2)))
	if got := f.queries.take(); len(got) != 1 {
		t.Errorf("second invocation ran %d queries, want 1: %q", len(got), got)
	}

	// Every voter is cached now.
	invoke(t, f.handler, records...)
	if got := f.queries.take(); len(got) != 0 {
		t.Errorf("invocation with cached voters ran %d queries, want 0: %q", len(got), got)
	}
}

func TestCacheIsBounded(t *testing.T) {
	f := newFixture(t, Config{CacheSize: 2})
	for i := range 5 {
		invoke(t, f.handler, record("r", envelopeLine(t, ballotAt("small-2024", fmt.Sprint(i+1), "1", castAt), int64(i))))
	}
	if got := f.handler.voters.len(); got != 2 {
		t.Errorf("cache holds %d voters, want 2", got)
	}
}

func TestDatabaseFailureFailsInvocation(t *testing.T) {
	line := envelopeLine(t, ballotAt("small-2024", "1", "1", castAt), 1)

	t.Run("closed pool", func(t *testing.T) {
		f := newFixture(t, Config{})
		f.pool.Close()
		_, err := f.handler.Handle(context.Background(), events.KinesisFirehoseEvent{Records: []events.KinesisFirehoseEventRecord{record("r", line)}})
		if err == nil {
			t.Error("Handle with a closed pool returned no error")
		}
	})

	t.Run("unreachable database", func(t *testing.T) {
		// Port 1 on loopback is closed: connections are refused at once.
		pool, err := pgxpool.New(context.Background(), "postgres://postgres@127.0.0.1:1/votestream?sslmode=disable&connect_timeout=2")
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		h, err := New(Config{Pool: pool, VoterKeySecret: testSecret, AcquireTimeout: 3 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		_, err = h.Handle(context.Background(), events.KinesisFirehoseEvent{Records: []events.KinesisFirehoseEventRecord{record("r", line)}})
		if err == nil {
			t.Error("Handle with an unreachable database returned no error")
		}
	})

	t.Run("table missing after warm-up", func(t *testing.T) {
		f := newFixture(t, Config{})
		invoke(t, f.handler, record("warm", line))
		if _, err := f.pool.Exec(context.Background(), "ALTER TABLE voters RENAME TO voters_gone"); err != nil {
			t.Fatal(err)
		}
		other := envelopeLine(t, ballotAt("small-2024", "2", "1", castAt), 2)
		_, err := f.handler.Handle(context.Background(), events.KinesisFirehoseEvent{Records: []events.KinesisFirehoseEventRecord{record("r", other)}})
		if err == nil {
			t.Error("Handle with a failing voter query returned no error")
		}
	})
}

func TestOutputHoldsNoVoterIDOrName(t *testing.T) {
	f := newFixture(t, Config{})
	v := ballotAt("small-2024", secretVoterID, "2", castAt)
	resp := invoke(t, f.handler, record("r", envelopeLine(t, v, 1)))
	rows := rowsOf(t, resp.Records[0])
	if rows[0].Status != glue.StatusAccepted {
		t.Fatalf("status = %q (%s), want accepted", rows[0].Status, rows[0].Reason)
	}

	encoded, err := json.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range [][]byte{resp.Records[0].Data, encoded} {
		if bytes.Contains(out, []byte(secretVoterID)) {
			t.Errorf("output contains the voter id %q", secretVoterID)
		}
		if bytes.Contains(out, []byte(secretVoterName)) {
			t.Errorf("output contains the voter name %q", secretVoterName)
		}
	}
}

func TestMSKRecordsAnswerWithKafkaRecordValue(t *testing.T) {
	f := newFixture(t, Config{})
	raw, err := json.Marshal(ballotAt("small-2024", "3", "1", castAt))
	if err != nil {
		t.Fatal(err)
	}
	input := fmt.Sprintf(`{"invocationId":"i","sourceMSKArn":"arn:aws:kafka:x","deliveryStreamArn":"arn:aws:firehose:x","region":"eu-west-1",
		"records":[
		  {"recordId":"m1","approximateArrivalTimestamp":1720084500000,
		   "mskRecordMetadata":{"offset":"42","partitionId":"5","approximateArrivalTimestamp":1720084500123},
		   "kafkaRecordValue":%q},
		  {"recordId":"m2","approximateArrivalTimestamp":1720084500000,
		   "mskRecordMetadata":{"offset":"43","partitionId":"5","approximateArrivalTimestamp":1720084500123},
		   "kafkaRecordValue":"bm90IGpzb24="}]}`, base64.StdEncoding.EncodeToString(raw))
	var ev Event
	if err := json.Unmarshal([]byte(input), &ev); err != nil {
		t.Fatal(err)
	}

	resp, err := f.handler.HandleEvent(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	encoded, err := json.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	var wire struct {
		Records []map[string]json.RawMessage `json:"records"`
	}
	if err := json.Unmarshal(encoded, &wire); err != nil {
		t.Fatal(err)
	}
	for _, r := range wire.Records {
		if _, ok := r["kafkaRecordValue"]; !ok {
			t.Errorf("record %s has no kafkaRecordValue: %s", r["recordId"], encoded)
		}
		if _, ok := r["data"]; ok {
			t.Errorf("record %s has a data field: %s", r["recordId"], encoded)
		}
	}
	if resp.Records[1].Result != events.KinesisFirehoseTransformedStateProcessingFailed {
		t.Errorf("record m2 result = %s, want ProcessingFailed", resp.Records[1].Result)
	}

	var row glue.Row
	if err := json.Unmarshal(bytes.TrimSpace(resp.Records[0].Data), &row); err != nil {
		t.Fatalf("record m1 data %q: %v", resp.Records[0].Data, err)
	}
	if row.KafkaPartition != 5 || row.KafkaOffset != 42 || row.KafkaTopic != vote.VotesTopic {
		t.Errorf("Kafka coordinates = (%s, %d, %d), want (%s, 5, 42)", row.KafkaTopic, row.KafkaPartition, row.KafkaOffset, vote.VotesTopic)
	}
	if row.KafkaTimestamp != "2024-07-04T09:15:00.123Z" {
		t.Errorf("kafka_timestamp = %q, want the arrival time 2024-07-04T09:15:00.123Z", row.KafkaTimestamp)
	}
	if row.Status != glue.StatusAccepted {
		t.Errorf("status = %q (%s), want accepted", row.Status, row.Reason)
	}
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	pool, err := pgxpool.New(context.Background(), "postgres://postgres@127.0.0.1:1/x?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"no pool", Config{VoterKeySecret: testSecret}, "Pool is nil"},
		{"no secret", Config{Pool: pool}, "VoterKeySecret is empty"},
		{"negative budget", Config{Pool: pool, VoterKeySecret: testSecret, ResponseBudget: -1}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("New: err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
