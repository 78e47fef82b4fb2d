package firehose

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	fh "github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"

	"github.com/votestream/votestream/glue"
)

const testElection = "us-2024"

// arrivalTime is the fixed clock of the test servers.
var arrivalTime = time.Date(2024, 11, 6, 1, 2, 3, 0, time.UTC)

// testRow returns one lake row as the transform function writes it.
func testRow(i int, castAt time.Time) glue.Row {
	return glue.Row{
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
		KafkaPartition: int32(i % 3),
		KafkaOffset:    int64(1_000_000_000_000 + i),
		KafkaTimestamp: glue.FormatTimestamp(castAt.Add(time.Second)),
	}
}

// packRecord returns a Firehose record of n newline-separated rows.
func packRecord(t testing.TB, first, n int, castAt time.Time) []byte {
	t.Helper()
	var buf bytes.Buffer
	for i := first; i < first+n; i++ {
		line, err := json.Marshal(testRow(i, castAt))
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// echoProcessor returns every record unchanged with the partition keys of
// its first row's cast_at, like the transform function does.
func echoProcessor(_ context.Context, event events.KinesisFirehoseEvent) (events.KinesisFirehoseResponse, error) {
	var response events.KinesisFirehoseResponse
	for _, r := range event.Records {
		var row glue.Row
		line, _, _ := bytes.Cut(r.Data, []byte("\n"))
		if err := json.Unmarshal(line, &row); err != nil {
			return response, err
		}
		castAt, err := time.Parse(time.RFC3339Nano, row.CastAt)
		if err != nil {
			return response, err
		}
		response.Records = append(response.Records, events.KinesisFirehoseResponseRecord{
			RecordID: r.RecordID,
			Result:   resultOk,
			Data:     r.Data,
			Metadata: events.KinesisFirehoseResponseRecordMetadata{PartitionKeys: glue.PartitionValues(testElection, castAt)},
		})
	}
	return response, nil
}

type testEnv struct {
	stream   Stream
	lakeDir  string
	stateDir string
	server   *Server
	http     *httptest.Server
	client   *fh.Client
}

// newTestEnv starts a server for the template's votes stream with process
// as its transform function, and an SDK client aimed at it on 127.0.0.1.
// Buffer intervals are an hour so that only Flush and sizes deliver.
func newTestEnv(t *testing.T, process ProcessorFunc, stateDir string) *testEnv {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	previousBackoff := retryBackoff
	retryBackoff = 0
	t.Cleanup(func() { retryBackoff = previousBackoff })

	env := &testEnv{stream: loadVotesStream(t), lakeDir: t.TempDir(), stateDir: stateDir}
	if env.stateDir == "" {
		env.stateDir = t.TempDir()
	}
	env.start(t, process)
	return env
}

func (env *testEnv) start(t *testing.T, process ProcessorFunc) {
	t.Helper()
	env.startWith(t, Options{Processors: map[string]ProcessorFunc{"TransformFunction": process}})
}

// startWith starts a server with opts, filling in the environment's
// directories, the fixed arrival time and hour-long buffers, and an SDK
// client that does not retry, so that every error reaches the test.
func (env *testEnv) startWith(t *testing.T, opts Options) {
	t.Helper()
	opts.LakeDir = env.lakeDir
	opts.StateDir = env.stateDir
	opts.Now = func() time.Time { return arrivalTime }
	opts.BufferOverride = BufferOverride{ProcessorInterval: time.Hour, DeliveryInterval: time.Hour}
	server, err := NewServer([]Stream{env.stream}, opts)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	env.server = server
	env.http = httptest.NewServer(server)
	t.Cleanup(env.http.Close)
	t.Cleanup(func() { server.Close(context.Background()) })

	env.client = fh.New(fh.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(env.http.URL),
		Credentials:      credentials.NewStaticCredentialsProvider("test", "test", ""),
		RetryMaxAttempts: 1,
	})
}

func (env *testEnv) putBatch(t *testing.T, records ...[]byte) *fh.PutRecordBatchOutput {
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
	return out
}

// lakeFiles returns the lake's object keys under prefix, sorted.
func (env *testEnv) lakeFiles(t *testing.T, prefix string) []string {
	t.Helper()
	root := filepath.Join(env.lakeDir, env.stream.Bucket)
	var keys []string
	filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		key, _ := filepath.Rel(root, path)
		key = filepath.ToSlash(key)
		if strings.HasPrefix(key, prefix) {
			keys = append(keys, key)
		}
		return nil
	})
	sort.Strings(keys)
	return keys
}

func (env *testEnv) readObject(t *testing.T, key string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(env.lakeDir, env.stream.Bucket, filepath.FromSlash(key)))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func readParquet(t *testing.T, path string) arrow.Table {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	table, err := pqarrow.ReadTable(context.Background(), f, parquet.NewReaderProperties(memory.DefaultAllocator), pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatalf("read Parquet %s: %v", path, err)
	}
	t.Cleanup(table.Release)
	return table
}

func TestSDKRoundTrip(t *testing.T) {
	env := newTestEnv(t, echoProcessor, "")
	ctx := context.Background()
	castAt := time.Date(2024, 11, 5, 14, 3, 7, 123_000_000, time.UTC)

	out := env.putBatch(t, packRecord(t, 0, 3, castAt), packRecord(t, 3, 3, castAt))
	if aws.ToInt32(out.FailedPutCount) != 0 || len(out.RequestResponses) != 2 {
		t.Fatalf("PutRecordBatch: FailedPutCount %d, %d responses; want 0 and 2", aws.ToInt32(out.FailedPutCount), len(out.RequestResponses))
	}
	for i, r := range out.RequestResponses {
		if aws.ToString(r.RecordId) == "" {
			t.Errorf("RequestResponses[%d].RecordId is empty", i)
		}
	}
	if _, err := env.client.PutRecord(ctx, &fh.PutRecordInput{
		DeliveryStreamName: aws.String(env.stream.Name),
		Record:             &types.Record{Data: packRecord(t, 6, 2, castAt)},
	}); err != nil {
		t.Fatalf("PutRecord: %v", err)
	}

	list, err := env.client.ListDeliveryStreams(ctx, &fh.ListDeliveryStreamsInput{})
	if err != nil {
		t.Fatalf("ListDeliveryStreams: %v", err)
	}
	if len(list.DeliveryStreamNames) != 1 || list.DeliveryStreamNames[0] != env.stream.Name {
		t.Errorf("ListDeliveryStreams = %v, want [%s]", list.DeliveryStreamNames, env.stream.Name)
	}
	described, err := env.client.DescribeDeliveryStream(ctx, &fh.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String(env.stream.Name)})
	if err != nil {
		t.Fatalf("DescribeDeliveryStream: %v", err)
	}
	desc := described.DeliveryStreamDescription
	if desc.DeliveryStreamStatus != types.DeliveryStreamStatusActive || aws.ToString(desc.DeliveryStreamARN) != env.stream.ARN {
		t.Errorf("DescribeDeliveryStream: status %s, ARN %s", desc.DeliveryStreamStatus, aws.ToString(desc.DeliveryStreamARN))
	}
	if len(desc.Destinations) != 1 || aws.ToString(desc.Destinations[0].ExtendedS3DestinationDescription.Prefix) != env.stream.Prefix {
		t.Errorf("DescribeDeliveryStream destinations = %+v, want the template prefix", desc.Destinations)
	}

	if err := env.server.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	const partition = "votes/election_id=us-2024/dt=2024-11-05/hour=14/"
	keys := env.lakeFiles(t, "votes/")
	if len(keys) != 1 {
		t.Fatalf("lake objects = %v, want one Parquet file", keys)
	}
	name := strings.TrimPrefix(keys[0], partition)
	if name == keys[0] || !strings.HasPrefix(name, "votestream-votes-1-2024-11-06-01-02-03-") || !strings.HasSuffix(name, ".parquet") {
		t.Errorf("object key = %s, want %svotestream-votes-1-2024-11-06-01-02-03-<uuid>.parquet", keys[0], partition)
	}

	stats := env.server.Stats()
	if stats.RecordsAccepted != 3 || stats.RecordsProcessed != 3 || stats.RowsDelivered != 8 || stats.ObjectsWritten != 1 {
		t.Errorf("Stats = %+v, want 3 accepted, 3 processed, 8 rows, 1 object", stats)
	}
	if spooled, _ := filepath.Glob(filepath.Join(env.stateDir, "spool", env.stream.Name, "*.spool")); len(spooled) > 1 {
		t.Errorf("spool still contains %d segments after delivery", len(spooled))
	}
}

func TestParquetSchemaAndValues(t *testing.T) {
	env := newTestEnv(t, echoProcessor, "")
	castAt := time.Date(2024, 11, 5, 14, 3, 7, 123_000_000, time.UTC)
	env.putBatch(t, packRecord(t, 0, 5, castAt))
	if err := env.server.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	keys := env.lakeFiles(t, "votes/")
	if len(keys) != 1 {
		t.Fatalf("lake objects = %v, want one", keys)
	}
	path := filepath.Join(env.lakeDir, env.stream.Bucket, filepath.FromSlash(keys[0]))
	table := readParquet(t, path)

	wantTypes := map[string]arrow.DataType{
		glue.TypeString:    arrow.BinaryTypes.String,
		glue.TypeInt:       arrow.PrimitiveTypes.Int32,
		glue.TypeBigint:    arrow.PrimitiveTypes.Int64,
		glue.TypeTimestamp: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"},
	}
	fields := table.Schema().Fields()
	if len(fields) != len(glue.Columns) {
		t.Fatalf("Parquet has %d columns, want %d", len(fields), len(glue.Columns))
	}
	for i, col := range glue.Columns {
		if fields[i].Name != col.Name {
			t.Errorf("column %d name = %s, want %s", i, fields[i].Name, col.Name)
		}
		if !arrow.TypeEqual(fields[i].Type, wantTypes[col.Type]) {
			t.Errorf("column %s type = %s, want %s", col.Name, fields[i].Type, wantTypes[col.Type])
		}
	}
	if table.NumRows() != 5 {
		t.Fatalf("Parquet has %d rows, want 5", table.NumRows())
	}

	column := func(name string) arrow.Array {
		t.Helper()
		indices := table.Schema().FieldIndices(name)
		if len(indices) != 1 {
			t.Fatalf("no column %s", name)
		}
		return table.Column(indices[0]).Data().Chunk(0)
	}
	want := testRow(2, castAt)
	if got := column("vote_id").(*array.String).Value(2); got != want.VoteID {
		t.Errorf("vote_id[2] = %q, want %q", got, want.VoteID)
	}
	if got := column("kafka_partition").(*array.Int32).Value(2); got != want.KafkaPartition {
		t.Errorf("kafka_partition[2] = %d, want %d", got, want.KafkaPartition)
	}
	if got := column("kafka_offset").(*array.Int64).Value(2); got != want.KafkaOffset {
		t.Errorf("kafka_offset[2] = %d, want %d", got, want.KafkaOffset)
	}
	if got := column("cast_at").(*array.Timestamp).Value(2); int64(got) != castAt.UnixMilli() {
		t.Errorf("cast_at[2] = %d, want %d", got, castAt.UnixMilli())
	}
	if got := column("reason").(*array.String); got.IsNull(2) || got.Value(2) != "" {
		t.Errorf("reason[2] = null %v %q, want an empty string", got.IsNull(2), got.Value(2))
	}

	reader, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	chunk, err := reader.MetaData().RowGroup(0).ColumnChunk(0)
	if err != nil {
		t.Fatal(err)
	}
	if chunk.Compression() != compress.Codecs.Snappy {
		t.Errorf("compression = %s, want SNAPPY", chunk.Compression())
	}
}

func TestPutRecordBatchLimits(t *testing.T) {
	env := newTestEnv(t, echoProcessor, "")
	small := []byte(`{"vote_id":"x"}`)
	many := make([][]byte, 501)
	for i := range many {
		many[i] = small
	}

	cases := []struct {
		name    string
		stream  string
		records [][]byte
		check   func(error) bool
		want    string
	}{
		{"501 records", env.stream.Name, many, isInvalidArgument, "at most 500"},
		{"record of 1,001 KiB", env.stream.Name, [][]byte{small, bytes.Repeat([]byte("a"), 1001<<10)}, isInvalidArgument, "Records[1]"},
		{"batch over 4 MiB", env.stream.Name, [][]byte{
			bytes.Repeat([]byte("a"), 1000<<10), bytes.Repeat([]byte("a"), 1000<<10), bytes.Repeat([]byte("a"), 1000<<10),
			bytes.Repeat([]byte("a"), 1000<<10), bytes.Repeat([]byte("a"), 200<<10),
		}, isInvalidArgument, "4 MiB"},
		{"unknown stream", "no-such-stream", [][]byte{small}, isResourceNotFound, "no-such-stream"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			entries := make([]types.Record, len(c.records))
			for i, r := range c.records {
				entries[i] = types.Record{Data: r}
			}
			_, err := env.client.PutRecordBatch(context.Background(), &fh.PutRecordBatchInput{
				DeliveryStreamName: aws.String(c.stream),
				Records:            entries,
			})
			if err == nil {
				t.Fatal("PutRecordBatch succeeded, want an error")
			}
			if !c.check(err) {
				t.Errorf("error %v has the wrong type", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %q", err, c.want)
			}
		})
	}
	if got := env.server.Stats().RecordsAccepted; got != 0 {
		t.Errorf("RecordsAccepted = %d after rejected calls, want 0", got)
	}
}

func isInvalidArgument(err error) bool {
	var e *types.InvalidArgumentException
	return errors.As(err, &e)
}

func isResourceNotFound(err error) bool {
	var e *types.ResourceNotFoundException
	return errors.As(err, &e)
}

// errorDocuments returns the JSON documents under the error prefix of one
// error output type.
func (env *testEnv) errorDocuments(t *testing.T, errorType string) []map[string]any {
	t.Helper()
	prefix := "errors/" + errorType + "/dt=" + arrivalTime.Format("2006-01-02") + "/"
	var docs []map[string]any
	for _, key := range env.lakeFiles(t, prefix) {
		scanner := bufio.NewScanner(bytes.NewReader(env.readObject(t, key)))
		scanner.Buffer(nil, 4<<20)
		for scanner.Scan() {
			var doc map[string]any
			if err := json.Unmarshal(scanner.Bytes(), &doc); err != nil {
				t.Fatalf("error document in %s is not JSON: %v", key, err)
			}
			docs = append(docs, doc)
		}
	}
	return docs
}

func TestProcessorContractViolationRetries(t *testing.T) {
	cases := []struct {
		name     string
		mangle   func(events.KinesisFirehoseResponse) (events.KinesisFirehoseResponse, error)
		wantCode string
	}{
		{"missing recordId", func(r events.KinesisFirehoseResponse) (events.KinesisFirehoseResponse, error) {
			r.Records = r.Records[:len(r.Records)-1]
			return r, nil
		}, "Lambda.MissingRecordId"},
		{"duplicated recordId", func(r events.KinesisFirehoseResponse) (events.KinesisFirehoseResponse, error) {
			r.Records[1].RecordID = r.Records[0].RecordID
			return r, nil
		}, "Lambda.DuplicatedRecordId"},
		{"invalid result", func(r events.KinesisFirehoseResponse) (events.KinesisFirehoseResponse, error) {
			r.Records[0].Result = "Maybe"
			return r, nil
		}, "Lambda.InvalidRecordResult"},
		{"function error", func(r events.KinesisFirehoseResponse) (events.KinesisFirehoseResponse, error) {
			return r, errors.New("database is down")
		}, "Lambda.FunctionError"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var calls atomic.Int32
			env := newTestEnv(t, func(ctx context.Context, event events.KinesisFirehoseEvent) (events.KinesisFirehoseResponse, error) {
				calls.Add(1)
				response, err := echoProcessor(ctx, event)
				if err != nil {
					return response, err
				}
				return c.mangle(response)
			}, "")
			castAt := time.Date(2024, 11, 5, 14, 0, 0, 0, time.UTC)
			records := [][]byte{packRecord(t, 0, 2, castAt), packRecord(t, 2, 2, castAt), packRecord(t, 4, 2, castAt)}
			env.putBatch(t, records...)
			if err := env.server.Flush(context.Background()); err != nil {
				t.Fatalf("Flush: %v", err)
			}

			if got, want := calls.Load(), int32(1+env.stream.Processor.NumberOfRetries); got != want {
				t.Errorf("processor called %d times, want %d (1 + NumberOfRetries)", got, want)
			}
			if keys := env.lakeFiles(t, "votes/"); len(keys) != 0 {
				t.Errorf("lake objects = %v, want none", keys)
			}
			docs := env.errorDocuments(t, ErrorProcessingFailed)
			if len(docs) != len(records) {
				t.Fatalf("got %d processing-failed documents, want %d", len(docs), len(records))
			}
			doc := docs[0]
			if doc["errorCode"] != c.wantCode {
				t.Errorf("errorCode = %v, want %s", doc["errorCode"], c.wantCode)
			}
			if doc["attemptsMade"] != float64(4) {
				t.Errorf("attemptsMade = %v, want 4", doc["attemptsMade"])
			}
			if doc["lambdaArn"] != env.stream.Processor.FunctionARN {
				t.Errorf("lambdaArn = %v, want %s", doc["lambdaArn"], env.stream.Processor.FunctionARN)
			}
			if doc["arrivalTimestamp"] != float64(arrivalTime.UnixMilli()) {
				t.Errorf("arrivalTimestamp = %v, want %d", doc["arrivalTimestamp"], arrivalTime.UnixMilli())
			}
			var raw [][]byte
			for _, d := range docs {
				var data []byte
				if err := json.Unmarshal([]byte(fmt.Sprintf("%q", d["rawData"])), &data); err != nil {
					t.Fatalf("rawData is not base64: %v", err)
				}
				raw = append(raw, data)
			}
			for i := range records {
				if !bytes.Equal(raw[i], records[i]) {
					t.Errorf("rawData of document %d = %q, want the original record", i, raw[i])
				}
			}
			if got := env.server.Stats().ErrorRecords[ErrorProcessingFailed]; got != int64(len(records)) {
				t.Errorf("Stats.ErrorRecords[processing-failed] = %d, want %d", got, len(records))
			}
		})
	}
}

func TestProcessorResultsPerRecord(t *testing.T) {
	env := newTestEnv(t, func(ctx context.Context, event events.KinesisFirehoseEvent) (events.KinesisFirehoseResponse, error) {
		response, err := echoProcessor(ctx, event)
		response.Records[1].Result = resultDropped
		response.Records[2].Result = resultProcessingFailed
		return response, err
	}, "")
	castAt := time.Date(2024, 11, 5, 14, 0, 0, 0, time.UTC)
	env.putBatch(t, packRecord(t, 0, 2, castAt), packRecord(t, 2, 2, castAt), packRecord(t, 4, 2, castAt))
	if err := env.server.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}

	stats := env.server.Stats()
	if stats.RowsDelivered != 2 || stats.RecordsDropped != 1 || stats.ErrorRecords[ErrorProcessingFailed] != 1 {
		t.Errorf("Stats = %+v, want 2 rows delivered, 1 dropped, 1 processing-failed", stats)
	}
	docs := env.errorDocuments(t, ErrorProcessingFailed)
	if len(docs) != 1 || docs[0]["attemptsMade"] != float64(1) || docs[0]["errorCode"] != "Lambda.ProcessingFailed" {
		t.Errorf("processing-failed documents = %v, want one with attemptsMade 1 and errorCode Lambda.ProcessingFailed", docs)
	}
}

func TestPartitionKeyMissingGoesToErrorPrefix(t *testing.T) {
	env := newTestEnv(t, func(ctx context.Context, event events.KinesisFirehoseEvent) (events.KinesisFirehoseResponse, error) {
		response, err := echoProcessor(ctx, event)
		delete(response.Records[0].Metadata.PartitionKeys, "hour")
		return response, err
	}, "")
	castAt := time.Date(2024, 11, 5, 14, 0, 0, 0, time.UTC)
	env.putBatch(t, packRecord(t, 0, 2, castAt), packRecord(t, 2, 2, castAt))
	if err := env.server.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}

	docs := env.errorDocuments(t, ErrorPartitioningFailed)
	if len(docs) != 1 {
		t.Fatalf("got %d partitioning-failed documents, want 1", len(docs))
	}
	if msg, _ := docs[0]["errorMessage"].(string); !strings.Contains(msg, `"hour"`) {
		t.Errorf("errorMessage = %q, want it to name the key hour", msg)
	}
	if got := env.server.Stats().RowsDelivered; got != 2 {
		t.Errorf("RowsDelivered = %d, want 2 from the record with every key", got)
	}
}

func TestFormatConversionFailedGoesToErrorPrefix(t *testing.T) {
	env := newTestEnv(t, echoProcessor, "")
	castAt := time.Date(2024, 11, 5, 14, 0, 0, 0, time.UTC)
	bad := []byte(`{"cast_at":"2024-11-05T14:00:00.000Z","kafka_timestamp":"2024-11-05T15:00:00+01:00"}`)
	env.putBatch(t, bad, packRecord(t, 0, 2, castAt))
	if err := env.server.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}

	docs := env.errorDocuments(t, ErrorFormatConversionFailed)
	if len(docs) != 1 {
		t.Fatalf("got %d format-conversion-failed documents, want 1", len(docs))
	}
	if msg, _ := docs[0]["lastErrorMessage"].(string); !strings.Contains(msg, "kafka_timestamp") || !strings.Contains(msg, "offset") {
		t.Errorf("lastErrorMessage = %q, want it to name the column and the offset", msg)
	}
	table, _ := docs[0]["dataCatalogTable"].(map[string]any)
	if table["databaseName"] != glue.Database || table["tableName"] != glue.VotesTable {
		t.Errorf("dataCatalogTable = %v, want %s.%s", table, glue.Database, glue.VotesTable)
	}
	if got := env.server.Stats().RowsDelivered; got != 2 {
		t.Errorf("RowsDelivered = %d, want 2", got)
	}
}

func TestSpoolSurvivesRestart(t *testing.T) {
	stateDir := t.TempDir()
	env := newTestEnv(t, echoProcessor, stateDir)
	castAt := time.Date(2024, 11, 5, 9, 0, 0, 0, time.UTC)
	env.putBatch(t, packRecord(t, 0, 3, castAt), packRecord(t, 3, 4, castAt))
	env.putBatch(t, packRecord(t, 7, 1, castAt))

	// Stop as a crash would: nothing flushed, nothing delivered.
	env.http.Close()
	env.server.abandon()
	if keys := env.lakeFiles(t, ""); len(keys) != 0 {
		t.Fatalf("lake objects before restart = %v, want none", keys)
	}

	env.start(t, echoProcessor)
	if got := env.server.Stats().RecordsAccepted; got != 3 {
		t.Errorf("RecordsAccepted after restart = %d, want 3 recovered records", got)
	}
	if err := env.server.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if got := env.server.Stats().RowsDelivered; got != 8 {
		t.Errorf("RowsDelivered after restart = %d, want 8", got)
	}

	// A second restart finds nothing left to deliver.
	env.http.Close()
	if err := env.server.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	env.start(t, echoProcessor)
	if got := env.server.Stats().RecordsAccepted; got != 0 {
		t.Errorf("RecordsAccepted after the second restart = %d, want 0", got)
	}
}

func TestConcurrentPutsDeliverEveryRow(t *testing.T) {
	env := newTestEnv(t, echoProcessor, "")
	env.server.Close(context.Background())
	server, err := NewServer([]Stream{env.stream}, Options{
		LakeDir:        env.lakeDir,
		StateDir:       t.TempDir(),
		Processors:     map[string]ProcessorFunc{"TransformFunction": echoProcessor},
		BufferOverride: BufferOverride{ProcessorSize: 4 << 10, DeliverySize: 64 << 10},
	})
	if err != nil {
		t.Fatal(err)
	}
	env.server = server
	env.http.Config.Handler = server

	const callers, calls, recordsPerCall, rowsPerRecord = 4, 5, 20, 3
	var wg sync.WaitGroup
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for call := range calls {
				records := make([][]byte, recordsPerCall)
				for r := range records {
					first := ((c*calls+call)*recordsPerCall + r) * rowsPerRecord
					castAt := time.Date(2024, 11, 5, r%3, 0, 0, 0, time.UTC)
					records[r] = packRecord(t, first, rowsPerRecord, castAt)
				}
				env.putBatch(t, records...)
			}
		}()
	}
	wg.Wait()
	if err := server.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}

	const want = callers * calls * recordsPerCall * rowsPerRecord
	if got := server.Stats().RowsDelivered; got != want {
		t.Errorf("RowsDelivered = %d, want %d", got, want)
	}
	var rows int64
	for _, key := range env.lakeFiles(t, "votes/") {
		rows += readParquet(t, filepath.Join(env.lakeDir, env.stream.Bucket, filepath.FromSlash(key))).NumRows()
	}
	if rows != want {
		t.Errorf("Parquet files hold %d rows, want %d", rows, want)
	}
}

func TestAcknowledgeOnlyDiscardsRecords(t *testing.T) {
	env := newTestEnv(t, echoProcessor, "")
	env.server.Close(context.Background())
	env.startWith(t, Options{AcknowledgeOnly: true, Processors: map[string]ProcessorFunc{"TransformFunction": echoProcessor}})

	first := env.putBatch(t, []byte(`{"vote_id":"a"}`), []byte(`{"vote_id":"b"}`))
	second := env.putBatch(t, []byte(`{"vote_id":"c"}`))
	ids := map[string]bool{}
	for _, out := range []*fh.PutRecordBatchOutput{first, second} {
		if *out.FailedPutCount != 0 {
			t.Errorf("FailedPutCount = %d, want 0", *out.FailedPutCount)
		}
		for _, entry := range out.RequestResponses {
			if entry.RecordId == nil || ids[*entry.RecordId] {
				t.Errorf("RecordId %v is missing or repeated", entry.RecordId)
				continue
			}
			ids[*entry.RecordId] = true
		}
	}
	if len(ids) != 3 {
		t.Errorf("%d distinct record ids, want 3", len(ids))
	}

	// Limits still apply.
	_, err := env.client.PutRecordBatch(context.Background(), &fh.PutRecordBatchInput{
		DeliveryStreamName: aws.String(env.stream.Name),
		Records:            []types.Record{{Data: []byte{}}},
	})
	if !isInvalidArgument(err) {
		t.Errorf("empty record: error %v, want InvalidArgumentException", err)
	}

	if err := env.server.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	stats := env.server.Stats()
	if stats.RecordsAccepted != 3 {
		t.Errorf("RecordsAccepted = %d, want 3", stats.RecordsAccepted)
	}
	if stats.RecordsProcessed != 0 || stats.ObjectsWritten != 0 {
		t.Errorf("processed %d records and wrote %d objects, want none", stats.RecordsProcessed, stats.ObjectsWritten)
	}
	if files := env.lakeFiles(t, ""); len(files) != 0 {
		t.Errorf("lake has %d objects, want none: %v", len(files), files)
	}
}
