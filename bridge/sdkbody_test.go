package bridge

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	fh "github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
)

// capturedRequest is what a capturingHTTPClient received.
type capturedRequest struct {
	header http.Header
	body   []byte
}

// capturingHTTPClient records each request and returns an empty
// PutRecordBatch response, without any network.
type capturingHTTPClient struct {
	requests *[]capturedRequest
}

func (c capturingHTTPClient) Do(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
	}
	*c.requests = append(*c.requests, capturedRequest{header: req.Header.Clone(), body: body})
	response := `{"FailedPutCount":0,"RequestResponses":[]}`
	return &http.Response{
		StatusCode:    http.StatusOK,
		Header:        http.Header{"Content-Type": {"application/x-amz-json-1.1"}},
		Body:          io.NopCloser(strings.NewReader(response)),
		ContentLength: int64(len(response)),
		Request:       req,
	}, nil
}

// sendCaptured sends in with a client built with optFns and returns the
// request it sent.
func sendCaptured(t *testing.T, in *fh.PutRecordBatchInput, optFns ...func(*fh.Options)) capturedRequest {
	t.Helper()
	var requests []capturedRequest
	client := fh.New(fh.Options{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("test", "test", ""),
		HTTPClient:       capturingHTTPClient{&requests},
		RetryMaxAttempts: 1,
	}, optFns...)
	// Validation errors are expected for some inputs and happen before any
	// request, in both clients alike.
	client.PutRecordBatch(context.Background(), in)
	if len(requests) > 1 {
		t.Fatalf("client sent %d requests, want at most 1", len(requests))
	}
	if len(requests) == 0 {
		return capturedRequest{}
	}
	return requests[0]
}

func TestPresizedBodyMatchesSDK(t *testing.T) {
	allBytes := make([]byte, 256)
	for i := range allBytes {
		allBytes[i] = byte(i)
	}
	envelope := []byte(`{"topic":"votes_topic","partition":3,"offset":7,"timestamp":"2024-11-05T14:03:00.000Z","vote":{"vote_id":"Áine <&>"}}` + "\n")
	cases := map[string]*fh.PutRecordBatchInput{
		"envelopes": {DeliveryStreamName: aws.String("votestream-votes"), Records: []types.Record{
			{Data: bytes.Repeat(envelope, 70)}, {Data: envelope},
		}},
		"all byte values":   {DeliveryStreamName: aws.String("a.b_c-1"), Records: []types.Record{{Data: allBytes}, {Data: allBytes[:1]}, {Data: allBytes[:2]}}},
		"empty data":        {DeliveryStreamName: aws.String("votes"), Records: []types.Record{{Data: []byte{}}}},
		"no records":        {DeliveryStreamName: aws.String("votes"), Records: []types.Record{}},
		"nil data":          {DeliveryStreamName: aws.String("votes"), Records: []types.Record{{Data: envelope}, {}}},
		"name with a quote": {DeliveryStreamName: aws.String(`vo"tes`), Records: []types.Record{{Data: envelope}}},
		"name with accents": {DeliveryStreamName: aws.String("Ströme"), Records: []types.Record{{Data: envelope}}},
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			want := sendCaptured(t, in)
			got := sendCaptured(t, in, PresizedPutRecordBatch)
			if isPlainBatch(in) && len(in.Records) > 0 && len(want.body) == 0 {
				t.Fatal("the SDK sent no request body, so there is nothing to compare")
			}
			if !bytes.Equal(got.body, want.body) {
				t.Errorf("body\n%s\nwant the SDK's\n%s", got.body, want.body)
			}
			for _, header := range []string{"X-Amz-Target", "Content-Type", "Content-Length", "X-Amz-Content-Sha256"} {
				if got, want := got.header.Get(header), want.header.Get(header); got != want {
					t.Errorf("header %s = %q, want the SDK's %q", header, got, want)
				}
			}
		})
	}
}

func TestPresizedBodyPlainInputs(t *testing.T) {
	record := []types.Record{{Data: []byte("x")}}
	cases := []struct {
		name  string
		in    *fh.PutRecordBatchInput
		plain bool
	}{
		{"plain", &fh.PutRecordBatchInput{DeliveryStreamName: aws.String("votes-1.a_b"), Records: record}, true},
		{"no name", &fh.PutRecordBatchInput{Records: record}, false},
		{"no records", &fh.PutRecordBatchInput{DeliveryStreamName: aws.String("votes")}, false},
		{"nil data", &fh.PutRecordBatchInput{DeliveryStreamName: aws.String("votes"), Records: []types.Record{{}}}, false},
		{"name with a slash", &fh.PutRecordBatchInput{DeliveryStreamName: aws.String("a/b"), Records: record}, false},
	}
	for _, tc := range cases {
		if got := isPlainBatch(tc.in); got != tc.plain {
			t.Errorf("%s: isPlainBatch = %v, want %v", tc.name, got, tc.plain)
		}
	}
}

func BenchmarkPutRecordBatchBody(b *testing.B) {
	record := bytes.Repeat([]byte(`{"topic":"votes_topic","partition":3,"offset":7,"vote":{}}`+"\n"), 20<<10/60)
	in := &fh.PutRecordBatchInput{DeliveryStreamName: aws.String("votes"), Records: make([]types.Record, 190)}
	for i := range in.Records {
		in.Records[i].Data = record
	}
	b.SetBytes(int64(len(record) * len(in.Records)))
	for b.Loop() {
		appendPutRecordBatchBody(nil, in)
	}
}
