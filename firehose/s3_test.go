package firehose

import (
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	fh "github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// withoutKeysOfSecond is echoProcessor with the partition keys of the
// second record removed, so that it goes to the partitioning-failed prefix.
func withoutKeysOfSecond(ctx context.Context, event events.KinesisFirehoseEvent) (events.KinesisFirehoseResponse, error) {
	response, err := echoProcessor(ctx, event)
	if err == nil && len(response.Records) > 1 {
		response.Records[1].Metadata.PartitionKeys = nil
	}
	return response, err
}

func TestS3DeliveryWritesParquetAndErrors(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	backend := s3mem.New()
	fake := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(fake.Close)
	client, err := NewS3Client(S3Endpoint{URL: fake.URL, PathStyle: true})
	if err != nil {
		t.Fatalf("NewS3Client: %v", err)
	}

	env := &testEnv{stream: loadVotesStream(t), stateDir: t.TempDir()}
	if err := backend.CreateBucket(env.stream.Bucket); err != nil {
		t.Fatal(err)
	}
	server, err := NewServer([]Stream{env.stream}, Options{
		S3:         client,
		StateDir:   env.stateDir,
		Processors: map[string]ProcessorFunc{"TransformFunction": withoutKeysOfSecond},
		Now:        func() time.Time { return arrivalTime },
	})
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	t.Cleanup(func() { server.Close(context.Background()) })
	api := httptest.NewServer(server)
	t.Cleanup(api.Close)
	env.server, env.http = server, api
	env.client = fh.New(fh.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(api.URL),
		Credentials:      credentials.NewStaticCredentialsProvider("test", "test", ""),
		RetryMaxAttempts: 1,
	})

	castAt := time.Date(2024, 11, 5, 14, 0, 0, 0, time.UTC)
	env.putBatch(t, packRecord(t, 0, 3, castAt), packRecord(t, 3, 1, castAt))
	if err := server.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}

	ctx := context.Background()
	listed, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(env.stream.Bucket)})
	if err != nil {
		t.Fatalf("ListObjectsV2: %v", err)
	}
	var keys []string
	for _, o := range listed.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	sort.Strings(keys)
	if len(keys) != 2 {
		t.Fatalf("bucket keys = %v, want one Parquet object and one error object", keys)
	}
	if !strings.HasPrefix(keys[0], "errors/"+ErrorPartitioningFailed+"/") || !strings.HasPrefix(keys[1], "votes/election_id="+testElection+"/dt=2024-11-05/hour=14/") {
		t.Fatalf("bucket keys = %v, want errors/partitioning-failed/… and votes/…/hour=14/…", keys)
	}
	if !strings.HasSuffix(keys[1], ".parquet") {
		t.Errorf("key %s does not end in .parquet", keys[1])
	}

	object, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(env.stream.Bucket), Key: aws.String(keys[1])})
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	body, err := io.ReadAll(object.Body)
	object.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	table, err := pqarrow.ReadTable(ctx, bytes.NewReader(body), parquet.NewReaderProperties(memory.DefaultAllocator), pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatalf("read Parquet from S3: %v", err)
	}
	defer table.Release()
	if table.NumRows() != 3 {
		t.Errorf("Parquet object has %d rows, want 3", table.NumRows())
	}
}
