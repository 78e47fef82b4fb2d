package redrive

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	fh "github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"

	"github.com/votestream/votestream/bridge"
	"github.com/votestream/votestream/firehose"
	"github.com/votestream/votestream/glue"
	"github.com/votestream/votestream/glue/lake"
)

const (
	testElection = "us-2024"
	templatePath = "../../sam-template.yaml"
)

var castAt = time.Date(2024, 11, 5, 14, 3, 7, 0, time.UTC)

// packRecord returns a Firehose record of n newline-separated lake rows,
// numbered from first, as the transform function writes them.
func packRecord(t *testing.T, first, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	for i := first; i < first+n; i++ {
		line, err := json.Marshal(glue.Row{
			VoteID:         fmt.Sprintf("vote-%04d", i),
			VoterKey:       fmt.Sprintf("key-%04d", i),
			CandidateID:    "c1",
			CandidateName:  "Candidate One",
			Party:          "P",
			RegionCode:     "VT-01",
			RegionName:     "Addison",
			AgeBand:        "25-34",
			Channel:        "early",
			CastAt:         glue.FormatTimestamp(castAt),
			Status:         glue.StatusAccepted,
			KafkaTopic:     "votes_topic",
			KafkaPartition: 0,
			KafkaOffset:    int64(i),
			KafkaTimestamp: glue.FormatTimestamp(castAt),
		})
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// flakyProcessor passes records through with the partition keys of castAt,
// and returns ProcessingFailed for records that contain a broken vote id
// until fixed is set.
type flakyProcessor struct {
	broken map[string]bool
	fixed  atomic.Bool
	failed atomic.Int64
}

func (p *flakyProcessor) process(_ context.Context, event events.KinesisFirehoseEvent) (events.KinesisFirehoseResponse, error) {
	var response events.KinesisFirehoseResponse
	for _, r := range event.Records {
		out := events.KinesisFirehoseResponseRecord{
			RecordID: r.RecordID,
			Result:   events.KinesisFirehoseTransformedStateOk,
			Data:     r.Data,
			Metadata: events.KinesisFirehoseResponseRecordMetadata{PartitionKeys: glue.PartitionValues(testElection, castAt)},
		}
		for id := range p.broken {
			if !p.fixed.Load() && bytes.Contains(r.Data, []byte(`"`+id+`"`)) {
				out = events.KinesisFirehoseResponseRecord{RecordID: r.RecordID, Result: events.KinesisFirehoseTransformedStateProcessingFailed}
				p.failed.Add(1)
				break
			}
		}
		response.Records = append(response.Records, out)
	}
	return response, nil
}

type testEnv struct {
	stream firehose.Stream
	server *firehose.Server
	client *fh.Client
	store  DirStore
	lake   string
}

// newTestEnv starts the template's votes stream with process as its
// transform function, served on 127.0.0.1, delivering into a temporary
// lake directory.
func newTestEnv(t *testing.T, process firehose.ProcessorFunc) *testEnv {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	tmpl, err := firehose.LoadTemplate(templatePath)
	if err != nil {
		t.Fatalf("LoadTemplate: %v", err)
	}
	stream, ok := tmpl.Stream("VotesDeliveryStream")
	if !ok {
		t.Fatalf("template has no stream VotesDeliveryStream")
	}
	lakeDir := t.TempDir()
	server, err := firehose.NewServer([]firehose.Stream{stream}, firehose.Options{
		LakeDir:        lakeDir,
		StateDir:       t.TempDir(),
		Processors:     map[string]firehose.ProcessorFunc{"TransformFunction": process},
		BufferOverride: firehose.BufferOverride{ProcessorInterval: time.Hour, DeliveryInterval: time.Hour},
	})
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	t.Cleanup(func() { server.Close(context.Background()) })
	api := httptest.NewServer(server)
	t.Cleanup(api.Close)

	return &testEnv{
		stream: stream,
		server: server,
		client: fh.New(fh.Options{
			Region:       "us-east-1",
			BaseEndpoint: aws.String(api.URL),
			Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		}),
		store: DirStore{Dir: filepath.Join(lakeDir, stream.Bucket)},
		lake:  filepath.Join(lakeDir, stream.Bucket),
	}
}

func (env *testEnv) put(t *testing.T, records ...[]byte) {
	t.Helper()
	entries := make([]types.Record, len(records))
	for i, r := range records {
		entries[i] = types.Record{Data: r}
	}
	out, err := env.client.PutRecordBatch(context.Background(), &fh.PutRecordBatchInput{
		DeliveryStreamName: aws.String(env.stream.Name),
		Records:            entries,
	})
	if err != nil {
		t.Fatalf("PutRecordBatch: %v", err)
	}
	if n := aws.ToInt32(out.FailedPutCount); n != 0 {
		t.Fatalf("PutRecordBatch: FailedPutCount %d, want 0", n)
	}
}

func (env *testEnv) flush(t *testing.T) {
	t.Helper()
	if err := env.server.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

// lakeRows returns the rows and the distinct vote ids of the election in
// the lake's Parquet files, read by DuckDB. It reads the files without the
// views of glue/lake, so that the test depends only on what delivery wrote.
func (env *testEnv) lakeRows(t *testing.T) (rows, unique int64) {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatalf("open DuckDB: %v", err)
	}
	defer db.Close()
	pattern := filepath.ToSlash(filepath.Join(lake.VotesDir(env.lake), "election_id="+testElection, "*", "*", "*.parquet"))
	query := fmt.Sprintf("SELECT count(*), count(DISTINCT vote_id) FROM read_parquet('%s')", pattern)
	if err := db.QueryRow(query).Scan(&rows, &unique); err != nil {
		t.Fatalf("count rows under %s: %v", pattern, err)
	}
	return rows, unique
}

func (env *testEnv) redrive(t *testing.T, dryRun bool) Result {
	t.Helper()
	result, err := Run(context.Background(), Options{
		Stream:   env.stream,
		Store:    env.store,
		Firehose: env.client,
		DryRun:   dryRun,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return result
}

func TestRedriveCompletesLakeOnce(t *testing.T) {
	processor := &flakyProcessor{broken: map[string]bool{"vote-0003": true, "vote-0012": true}}
	env := newTestEnv(t, processor.process)

	// Ten records of three rows: vote-0003 is in the second record and
	// vote-0012 in the fifth.
	var records [][]byte
	for i := range 10 {
		records = append(records, packRecord(t, i*3, 3))
	}
	env.put(t, records...)
	env.flush(t)
	if got := processor.failed.Load(); got != 2 {
		t.Fatalf("processor failed %d records, want 2", got)
	}
	if rows, _ := env.lakeRows(t); rows != 24 {
		t.Fatalf("lake has %d rows before redrive, want 24", rows)
	}

	dry := env.redrive(t, true)
	if dry.Records != 2 || dry.Calls != 0 {
		t.Errorf("dry run = %+v, want 2 records found and 0 calls", dry)
	}

	processor.fixed.Store(true)
	first := env.redrive(t, false)
	if first.Records != 2 {
		t.Errorf("first redrive resent %d records, want 2", first.Records)
	}
	env.flush(t)
	rows, unique := env.lakeRows(t)
	if rows != 30 {
		t.Errorf("lake has %d rows after redrive, want 30", rows)
	}
	if unique != 30 {
		t.Errorf("lake has %d distinct votes after redrive, want 30", unique)
	}

	second := env.redrive(t, false)
	if second.Records != 0 || second.Objects != 0 || second.Calls != 0 {
		t.Errorf("second redrive = %+v, want nothing sent", second)
	}
	env.flush(t)
	if rows, _ := env.lakeRows(t); rows != 30 {
		t.Errorf("lake has %d rows after the second redrive, want 30", rows)
	}

	prefix, _ := ErrorTypePrefix(env.stream.ErrorOutputPrefix, firehose.ErrorProcessingFailed)
	left, err := env.store.List(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("error objects left after redrive: %v", left)
	}
	moved, err := env.store.List(context.Background(), RedrivenPrefix+prefix)
	if err != nil {
		t.Fatal(err)
	}
	if len(moved) == 0 {
		t.Errorf("no object under %s%s after redrive", RedrivenPrefix, prefix)
	}
}

// partialFirehose fails the first entry of every call the first time it
// sees that entry's data, and records what each call sent.
type partialFirehose struct {
	mu    sync.Mutex
	seen  map[string]bool
	calls [][]string
}

func (f *partialFirehose) PutRecordBatch(_ context.Context, in *fh.PutRecordBatchInput, _ ...func(*fh.Options)) (*fh.PutRecordBatchOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &fh.PutRecordBatchOutput{}
	var sent []string
	for i, r := range in.Records {
		sent = append(sent, string(r.Data))
		if i == 0 && !f.seen[string(r.Data)] {
			f.seen[string(r.Data)] = true
			out.RequestResponses = append(out.RequestResponses, types.PutRecordBatchResponseEntry{
				ErrorCode:    aws.String("ServiceUnavailableException"),
				ErrorMessage: aws.String("slow down"),
			})
			out.FailedPutCount = aws.Int32(aws.ToInt32(out.FailedPutCount) + 1)
			continue
		}
		out.RequestResponses = append(out.RequestResponses, types.PutRecordBatchResponseEntry{RecordId: aws.String(fmt.Sprint(i))})
	}
	f.calls = append(f.calls, sent)
	return out, nil
}

func TestRedriveResendsOnlyFailedEntries(t *testing.T) {
	store := DirStore{Dir: t.TempDir()}
	var body bytes.Buffer
	for _, data := range []string{"a", "b", "c"} {
		doc, _ := json.Marshal(map[string]any{"errorCode": "Lambda.ProcessingFailed", "rawData": []byte(data)})
		body.Write(doc)
		body.WriteByte('\n')
	}
	key := "errors/processing-failed/dt=2024-11-05/s-1-2024-11-05-14-00-00-x"
	if err := writeTestObject(store, key, body.Bytes()); err != nil {
		t.Fatal(err)
	}

	fake := &partialFirehose{seen: map[string]bool{}}
	result, err := Run(context.Background(), Options{
		Stream:   firehose.Stream{Name: "s", ErrorOutputPrefix: "errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/"},
		Store:    store,
		Firehose: fake,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if result.Records != 3 || result.Objects != 1 {
		t.Errorf("Run = %+v, want 3 records of 1 object", result)
	}
	want := []string{"a b c", "a"}
	if len(fake.calls) != len(want) {
		t.Fatalf("calls = %v, want %v", fake.calls, want)
	}
	for i, call := range fake.calls {
		if got := strings.Join(call, " "); got != want[i] {
			t.Errorf("call %d sent %q, want %q", i, got, want[i])
		}
	}
}

func writeTestObject(store DirStore, key string, body []byte) error {
	path := store.path(key)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, body, 0o644)
}

func TestBatchesLimits(t *testing.T) {
	record := func(size int) bridge.Record { return bridge.Record{Data: make([]byte, size)} }
	repeat := func(n, size int) []bridge.Record {
		out := make([]bridge.Record, n)
		for i := range out {
			out[i] = record(size)
		}
		return out
	}
	cases := []struct {
		name    string
		records []bridge.Record
		want    []int
	}{
		{"empty", nil, nil},
		{"one record", repeat(1, 10), []int{1}},
		{"500 records in one call", repeat(500, 10), []int{500}},
		{"501 records in two calls", repeat(501, 10), []int{500, 1}},
		{"4 MiB split by bytes", repeat(5, firehose.MaxRecordBytes), []int{4, 1}},
		{"exactly 4 MiB in one call", repeat(4, 1<<20), []int{4}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := batches(tc.records)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d batches, want %d", len(got), len(tc.want))
			}
			for i, b := range got {
				if len(b) != tc.want[i] {
					t.Errorf("batch %d has %d records, want %d", i, len(b), tc.want[i])
				}
			}
		})
	}
}

func TestErrorTypePrefix(t *testing.T) {
	cases := []struct {
		prefix, errorType, want string
		wantErr                 bool
	}{
		{"errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/", "processing-failed", "errors/processing-failed/dt=", false},
		{"errors/!{firehose:error-output-type}/", "format-conversion-failed", "errors/format-conversion-failed/", false},
		{"errors/", "processing-failed", "", true},
	}
	for _, tc := range cases {
		got, err := ErrorTypePrefix(tc.prefix, tc.errorType)
		if (err != nil) != tc.wantErr {
			t.Errorf("ErrorTypePrefix(%q, %q) error = %v, want error %v", tc.prefix, tc.errorType, err, tc.wantErr)
		}
		if got != tc.want {
			t.Errorf("ErrorTypePrefix(%q, %q) = %q, want %q", tc.prefix, tc.errorType, got, tc.want)
		}
	}
}

func TestParseDocumentsRejectsBadLines(t *testing.T) {
	cases := []struct{ name, body string }{
		{"not JSON", "{\"rawData\":\"YQ==\"}\nnot json\n"},
		{"no rawData", "{\"errorCode\":\"x\"}\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := parseDocuments([]byte(tc.body)); err == nil {
				t.Errorf("parseDocuments(%q) returned no error", tc.body)
			}
		})
	}
}
