package firehose

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	fh "github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
)

// newFaultyEnv starts a server for the votes stream with faults, and an SDK
// client that does not retry, so that every injected fault reaches the test.
func newFaultyEnv(t *testing.T, faults Faults) *testEnv {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	env := &testEnv{stream: loadVotesStream(t), lakeDir: t.TempDir(), stateDir: t.TempDir()}
	env.startWith(t, Options{
		Processors: map[string]ProcessorFunc{"TransformFunction": echoProcessor},
		Faults:     faults,
	})
	return env
}

func (env *testEnv) tryBatch(n int) (*fh.PutRecordBatchOutput, error) {
	entries := make([]types.Record, n)
	for i := range entries {
		entries[i] = types.Record{Data: []byte(`{"vote_id":"x"}` + "\n")}
	}
	return env.client.PutRecordBatch(context.Background(), &fh.PutRecordBatchInput{
		DeliveryStreamName: aws.String(env.stream.Name),
		Records:            entries,
	})
}

func TestFaultsThrottleWholeCall(t *testing.T) {
	env := newFaultyEnv(t, Faults{Seed: 1, ThrottleRate: 1})
	_, err := env.tryBatch(10)
	var unavailable *types.ServiceUnavailableException
	if !errors.As(err, &unavailable) {
		t.Fatalf("PutRecordBatch error = %v, want ServiceUnavailableException", err)
	}
	if got := env.server.Stats().RecordsAccepted; got != 0 {
		t.Errorf("RecordsAccepted = %d after a throttled call, want 0", got)
	}
	if got := env.server.FaultStats().ThrottledCalls; got != 1 {
		t.Errorf("ThrottledCalls = %d, want 1", got)
	}
}

func TestFaultsFailEntriesByPosition(t *testing.T) {
	env := newFaultyEnv(t, Faults{Seed: 7, FailureRate: 0.3})
	const calls, perCall = 20, 50
	failed := 0
	codes := map[string]int{}
	for range calls {
		out, err := env.tryBatch(perCall)
		if err != nil {
			t.Fatalf("PutRecordBatch: %v", err)
		}
		if len(out.RequestResponses) != perCall {
			t.Fatalf("%d responses for %d records", len(out.RequestResponses), perCall)
		}
		inCall := 0
		for i, entry := range out.RequestResponses {
			hasID := aws.ToString(entry.RecordId) != ""
			hasCode := aws.ToString(entry.ErrorCode) != ""
			if hasID == hasCode {
				t.Errorf("entry %d has RecordId %q and ErrorCode %q; want exactly one", i, aws.ToString(entry.RecordId), aws.ToString(entry.ErrorCode))
			}
			if hasCode {
				inCall++
				codes[aws.ToString(entry.ErrorCode)]++
			}
		}
		if got := int(aws.ToInt32(out.FailedPutCount)); got != inCall {
			t.Errorf("FailedPutCount = %d, but %d entries carry an ErrorCode", got, inCall)
		}
		failed += inCall
	}

	total := calls * perCall
	if failed == 0 || failed == total {
		t.Fatalf("%d of %d entries failed at FailureRate 0.3", failed, total)
	}
	if codes[ErrorCodeServiceUnavailable] == 0 || codes[ErrorCodeInternalFailure] == 0 {
		t.Errorf("error codes %v, want both %s and %s", codes, ErrorCodeServiceUnavailable, ErrorCodeInternalFailure)
	}
	if got := env.server.Stats().RecordsAccepted; got != int64(total-failed) {
		t.Errorf("RecordsAccepted = %d, want %d (only entries without an error)", got, total-failed)
	}
	stats := env.server.FaultStats()
	if got := stats.FailedEntries[ErrorCodeServiceUnavailable] + stats.FailedEntries[ErrorCodeInternalFailure]; got != int64(failed) {
		t.Errorf("FaultStats counts %d failed entries, responses carried %d", got, failed)
	}
}

func TestFaultsDropResponseAcceptsRecords(t *testing.T) {
	env := newFaultyEnv(t, Faults{Seed: 1, DropResponseRate: 1})
	_, err := env.tryBatch(5)
	if err == nil {
		t.Fatal("PutRecordBatch returned no error, want a transport error for the dropped response")
	}
	if got := env.server.Stats().RecordsAccepted; got != 5 {
		t.Errorf("RecordsAccepted = %d, want 5: a dropped response still accepts the records", got)
	}
	if got := env.server.FaultStats().DroppedResponses; got != 1 {
		t.Errorf("DroppedResponses = %d, want 1", got)
	}
}

func TestFaultsSameSeedSameFaults(t *testing.T) {
	pattern := func(seed uint64) []string {
		env := newFaultyEnv(t, Faults{Seed: seed, FailureRate: 0.2, ThrottleRate: 0.2})
		var out []string
		for range 10 {
			resp, err := env.tryBatch(20)
			if err != nil {
				out = append(out, "throttled")
				continue
			}
			for _, entry := range resp.RequestResponses {
				out = append(out, aws.ToString(entry.ErrorCode))
			}
		}
		return out
	}
	first, again, other := pattern(42), pattern(42), pattern(43)
	if len(first) != len(again) {
		t.Fatalf("seed 42 gave %d outcomes, then %d", len(first), len(again))
	}
	for i := range first {
		if first[i] != again[i] {
			t.Fatalf("seed 42 outcome %d: %q, then %q", i, first[i], again[i])
		}
	}
	same := len(first) == len(other)
	for i := 0; same && i < len(first); i++ {
		same = first[i] == other[i]
	}
	if same {
		t.Error("seeds 42 and 43 gave the same faults")
	}
}

func TestFaultsValidation(t *testing.T) {
	tests := []struct {
		name   string
		faults Faults
	}{
		{"negative throttle rate", Faults{ThrottleRate: -0.1}},
		{"failure rate over 1", Faults{FailureRate: 1.5}},
		{"drop rate over 1", Faults{DropResponseRate: 2}},
		{"negative latency", Faults{Latency: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewServer(nil, Options{LakeDir: t.TempDir(), StateDir: t.TempDir(), Faults: tt.faults})
			if err == nil {
				t.Error("NewServer returned nil error")
			}
		})
	}
}
