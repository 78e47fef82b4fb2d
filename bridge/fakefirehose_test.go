package bridge

import (
	"bytes"
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
)

// fakeFirehose records every PutRecordBatch call. respond decides the
// outcome of call number n (from 0); when nil, every record is accepted.
type fakeFirehose struct {
	respond func(n int, records [][]byte) (failedCodes map[int]string, err error)

	mu       sync.Mutex
	calls    [][][]byte
	accepted [][]byte
}

func (f *fakeFirehose) PutRecordBatch(ctx context.Context, in *firehose.PutRecordBatchInput, _ ...func(*firehose.Options)) (*firehose.PutRecordBatchOutput, error) {
	records := make([][]byte, len(in.Records))
	for i, rec := range in.Records {
		records[i] = bytes.Clone(rec.Data)
	}

	f.mu.Lock()
	n := len(f.calls)
	f.calls = append(f.calls, records)
	f.mu.Unlock()

	var failed map[int]string
	if f.respond != nil {
		var err error
		if failed, err = f.respond(n, records); err != nil {
			return nil, err
		}
	}

	out := &firehose.PutRecordBatchOutput{
		FailedPutCount:   aws.Int32(int32(len(failed))),
		RequestResponses: make([]types.PutRecordBatchResponseEntry, len(records)),
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, data := range records {
		if code, ok := failed[i]; ok {
			out.RequestResponses[i] = types.PutRecordBatchResponseEntry{ErrorCode: aws.String(code), ErrorMessage: aws.String("injected by the test")}
			continue
		}
		out.RequestResponses[i] = types.PutRecordBatchResponseEntry{RecordId: aws.String("id")}
		f.accepted = append(f.accepted, data)
	}
	return out, nil
}

func (f *fakeFirehose) acceptedRecords() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.accepted...)
}

// shortFirehose drops the last response entry of its first call, as a
// broken endpoint might.
type shortFirehose struct {
	fake  *fakeFirehose
	calls int
}

func (s *shortFirehose) PutRecordBatch(ctx context.Context, in *firehose.PutRecordBatchInput, opts ...func(*firehose.Options)) (*firehose.PutRecordBatchOutput, error) {
	s.calls++
	out, err := s.fake.PutRecordBatch(ctx, in, opts...)
	if err == nil && s.calls == 1 {
		out.RequestResponses = out.RequestResponses[:len(out.RequestResponses)-1]
	}
	return out, err
}
