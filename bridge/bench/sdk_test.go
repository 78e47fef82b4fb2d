package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	fh "github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"

	"github.com/votestream/votestream/bridge"
	"github.com/votestream/votestream/internal/vote"
)

// cannedHTTPClient reads each request body, as a transport sends it, and
// returns a fixed PutRecordBatch response without any network.
type cannedHTTPClient struct {
	response []byte
}

func (c cannedHTTPClient) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
	}
	return &http.Response{
		StatusCode:    http.StatusOK,
		Header:        http.Header{"Content-Type": {"application/x-amz-json-1.1"}},
		Body:          io.NopCloser(bytes.NewReader(c.response)),
		ContentLength: int64(len(c.response)),
		Request:       req,
	}, nil
}

// BenchmarkSDKPutRecordBatch measures what the AWS SDK for Go v2 costs per
// ballot to serialize, sign and decode one PutRecordBatch call like the
// bridge's: 20 KiB records of packed envelopes, filling about 4 MB. No bytes
// leave the process, so this is the least CPU that a bridge built on the
// SDK spends per ballot besides reading and packing it: with the SDK's own
// serializer, and with bridge.PresizedPutRecordBatch.
func BenchmarkSDKPutRecordBatch(b *testing.B) {
	b.Run("sdk-serializer", func(b *testing.B) { benchmarkSDKPutRecordBatch(b) })
	b.Run("presized", func(b *testing.B) { benchmarkSDKPutRecordBatch(b, bridge.PresizedPutRecordBatch) })
}

func benchmarkSDKPutRecordBatch(b *testing.B, optFns ...func(*fh.Options)) {
	b.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	raw, err := json.Marshal(syntheticBallot(1, 2))
	if err != nil {
		b.Fatal(err)
	}
	envelope := append(vote.AppendEnvelope(nil, vote.VotesTopic, 3, 123456, time.Now(), raw), '\n')
	perRecord := bridge.DefaultTargetRecordBytes / len(envelope)
	record := bytes.Repeat(envelope, perRecord)
	records := make([]types.Record, bridge.FirehoseMaxBatchBytes/len(record))
	for i := range records {
		records[i] = types.Record{Data: record}
	}

	var response strings.Builder
	response.WriteString(`{"Encrypted":false,"FailedPutCount":0,"RequestResponses":[`)
	for i := range records {
		if i > 0 {
			response.WriteByte(',')
		}
		fmt.Fprintf(&response, `{"RecordId":"%056d"}`, i)
	}
	response.WriteString(`]}`)

	client := fh.New(fh.Options{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("bench", "bench", ""),
		HTTPClient:       cannedHTTPClient{response: []byte(response.String())},
		RetryMaxAttempts: 1,
	}, optFns...)
	in := &fh.PutRecordBatchInput{DeliveryStreamName: aws.String(streamName), Records: records}
	votesPerCall := len(records) * perRecord
	b.SetBytes(int64(len(records) * len(record)))
	b.ResetTimer()
	for b.Loop() {
		out, err := client.PutRecordBatch(context.Background(), in)
		if err != nil {
			b.Fatal(err)
		}
		if len(out.RequestResponses) != len(records) {
			b.Fatalf("%d responses for %d records", len(out.RequestResponses), len(records))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*votesPerCall), "ns/vote")
	b.ReportMetric(float64(votesPerCall), "votes/call")
}
