package firehose

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"
)

// Values of KinesisFirehoseResponseRecord.Result.
const (
	resultOk               = events.KinesisFirehoseTransformedStateOk
	resultDropped          = events.KinesisFirehoseTransformedStateDropped
	resultProcessingFailed = events.KinesisFirehoseTransformedStateProcessingFailed
)

// maxLambdaPayload is the Lambda limit on a synchronous response, 6 MB
// (6 × 2^20 bytes); Firehose fails an invocation whose response exceeds it.
const maxLambdaPayload = 6 << 20

// retryBackoff is the wait before the first retry of a failed invocation;
// it doubles for every further retry. Tests set it to zero.
var retryBackoff = 100 * time.Millisecond

// invocationFailure is the reason a whole batch failed after all its attempts.
type invocationFailure struct {
	code     string
	message  string
	attempts int
}

// contractError is a response that breaks the transformation contract.
type contractError struct {
	code    string
	message string
}

func (e *contractError) Error() string { return e.code + ": " + e.message }

// invoke calls the processor on batch, retrying the whole batch up to
// NumberOfRetries times when the call fails or its response breaks the
// contract. It returns one response record per batch record, in batch order;
// or the failure after the last attempt; or an error when ctx ended first.
func (st *streamState) invoke(ctx context.Context, batch []pendingRecord) ([]events.KinesisFirehoseResponseRecord, *invocationFailure, error) {
	if st.process == nil {
		outcomes := make([]events.KinesisFirehoseResponseRecord, len(batch))
		for i, r := range batch {
			outcomes[i] = events.KinesisFirehoseResponseRecord{Result: resultOk, Data: r.data}
		}
		return outcomes, nil, nil
	}

	proc := st.cfg.Processor
	attempts := 1 + proc.NumberOfRetries
	event := events.KinesisFirehoseEvent{
		DeliveryStreamArn: st.cfg.ARN,
		Region:            LocalRegion,
		Records:           make([]events.KinesisFirehoseEventRecord, len(batch)),
	}
	for i, r := range batch {
		event.Records[i] = events.KinesisFirehoseEventRecord{
			RecordID:                    r.ref.recordID(),
			ApproximateArrivalTimestamp: events.MilliSecondsEpochTime{Time: r.arrival},
			Data:                        r.data,
		}
	}

	var last error
	for attempt := 1; attempt <= attempts; attempt++ {
		if attempt > 1 {
			wait := retryBackoff << (attempt - 2)
			select {
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			case <-time.After(wait):
			}
		}
		event.InvocationID = uuid.NewString()
		response, err := st.process(ctx, event)
		if err == nil {
			var outcomes []events.KinesisFirehoseResponseRecord
			if outcomes, err = matchResponse(event, response); err == nil {
				return outcomes, nil, nil
			}
		} else if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		last = err
		st.srv.logger.Warn("firehose: processor invocation failed",
			"stream", st.cfg.Name, "function", proc.FunctionLogicalID, "invocation_id", event.InvocationID,
			"attempt", attempt, "attempts", attempts, "records", len(batch), "error", err)
	}

	failure := &invocationFailure{code: "Lambda.FunctionError", message: last.Error(), attempts: attempts}
	var contract *contractError
	if errors.As(last, &contract) {
		failure.code, failure.message = contract.code, contract.message
	}
	st.srv.logger.Error("firehose: processor failed on every attempt; the batch goes to the error prefix",
		"stream", st.cfg.Name, "function", proc.FunctionLogicalID, "records", len(batch), "error", last)
	return nil, failure, nil
}

// matchResponse checks a processor response against the contract: every
// recordId of the event exactly once, a known result, and a response
// within the Lambda payload limit. It returns the records in event order.
func matchResponse(event events.KinesisFirehoseEvent, response events.KinesisFirehoseResponse) ([]events.KinesisFirehoseResponseRecord, error) {
	position := make(map[string]int, len(event.Records))
	for i, r := range event.Records {
		position[r.RecordID] = i
	}
	outcomes := make([]events.KinesisFirehoseResponseRecord, len(event.Records))
	seen := make([]bool, len(event.Records))
	size := 0
	for _, r := range response.Records {
		i, ok := position[r.RecordID]
		if !ok {
			return nil, &contractError{"Lambda.MissingRecordId", fmt.Sprintf("the response has recordId %q, which is not in the invocation", r.RecordID)}
		}
		if seen[i] {
			return nil, &contractError{"Lambda.DuplicatedRecordId", fmt.Sprintf("the response has recordId %q more than once", r.RecordID)}
		}
		switch r.Result {
		case resultOk, resultDropped, resultProcessingFailed:
		default:
			return nil, &contractError{"Lambda.InvalidRecordResult", fmt.Sprintf("recordId %q has result %q: use Ok, Dropped or ProcessingFailed", r.RecordID, r.Result)}
		}
		seen[i] = true
		outcomes[i] = r
		// Estimate of the record's JSON size: base64 data plus the fields around it.
		size += base64.StdEncoding.EncodedLen(len(r.Data)) + len(r.RecordID) + 64
		for k, v := range r.Metadata.PartitionKeys {
			size += len(k) + len(v) + 6
		}
	}
	for i, ok := range seen {
		if !ok {
			return nil, &contractError{"Lambda.MissingRecordId", fmt.Sprintf("the response has no record for recordId %q (%d of %d records returned)", event.Records[i].RecordID, len(response.Records), len(event.Records))}
		}
	}
	if size > maxLambdaPayload {
		return nil, &contractError{"Lambda.ResponseSizeExceeded", fmt.Sprintf("the response is about %d bytes, over the Lambda limit of %d bytes", size, maxLambdaPayload)}
	}
	return outcomes, nil
}
