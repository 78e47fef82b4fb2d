// Package redrive resends the records that a Firehose delivery stream wrote
// to its error output prefix, once the cause of the failure is fixed.
//
// Firehose writes each failed record as a JSON document with the original
// bytes in rawData (base64). Redrive reads those documents, sends rawData
// to the stream again with PutRecordBatch, and then moves each finished
// error object under RedrivenPrefix, so that a second run finds nothing
// left to send.
package redrive

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/votestream/votestream/bridge"
	"github.com/votestream/votestream/firehose"
)

// RedrivenPrefix is prepended to the key of an error object once all of its
// records were accepted by the stream.
const RedrivenPrefix = "redriven/"

// Store is the bucket that holds the error objects: a lake directory
// (DirStore) or an S3 bucket.
type Store interface {
	// List returns the keys under prefix, sorted.
	List(ctx context.Context, prefix string) ([]string, error)
	// Read returns the content of the object key.
	Read(ctx context.Context, key string) ([]byte, error)
	// Move renames the object from to the key to.
	Move(ctx context.Context, from, to string) error
}

// Options configures Run.
type Options struct {
	// Stream is the delivery stream to resend to, as LoadTemplate returns
	// it. Its ErrorOutputPrefix gives the keys of the error objects.
	Stream firehose.Stream

	// ErrorTypes are the error output types to redrive. Empty means
	// processing-failed only, because that is the one type whose rawData
	// holds the record as it was put. The rawData of partitioning-failed
	// and format-conversion-failed documents is the processor's output, so
	// resending it would run the transform over transformed data.
	ErrorTypes []string

	// Store holds the error objects. Required.
	Store Store

	// Firehose receives the records. Required unless DryRun is set.
	Firehose bridge.Firehose

	// DryRun counts the documents and objects that a run would redrive and
	// sends and moves nothing.
	DryRun bool

	// MaxRetries bounds the retries of one PutRecordBatch batch after a
	// failed call or failed entries. 0 means 8.
	MaxRetries int

	// Logger receives one line per redriven object and every retry. Nil
	// discards the logs.
	Logger *slog.Logger
}

// Result counts what one Run did.
type Result struct {
	// Objects counts the error objects whose records were all accepted
	// (or, with DryRun, would be sent).
	Objects int
	// Records counts the documents resent (or, with DryRun, found).
	Records int
	// Calls counts PutRecordBatch batches, before retries.
	Calls int
}

// document is the part of an error document that redrive reads.
type document struct {
	RawData []byte `json:"rawData"`
}

// maxDocumentBytes bounds one line of an error object: a 1,000 KiB record is
// about 1.34 MiB in base64, plus the error message around it.
const maxDocumentBytes = 4 << 20

// Run redrives every error object of opts.ErrorTypes under the stream's
// error output prefix. An object is moved under RedrivenPrefix only after
// the stream accepted every one of its records, so a run that stops early
// leaves the rest for the next run.
//
// NOTE: a run that stops after some batches of one object were accepted
// sends those batches again next time. The lake can then hold duplicates,
// as with any Firehose retry. The unique_votes view, and the views built on
// it, keep one row per vote_id.
func Run(ctx context.Context, opts Options) (Result, error) {
	var result Result
	if opts.Store == nil {
		return result, errors.New("redrive: Options.Store is required")
	}
	if opts.Firehose == nil && !opts.DryRun {
		return result, errors.New("redrive: Options.Firehose is required unless DryRun is set")
	}
	types := opts.ErrorTypes
	if len(types) == 0 {
		types = []string{firehose.ErrorProcessingFailed}
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	maxRetries := opts.MaxRetries
	if maxRetries <= 0 {
		maxRetries = 8
	}
	sender := &bridge.Sender{
		Firehose:    opts.Firehose,
		StreamName:  opts.Stream.Name,
		BackoffBase: 100 * time.Millisecond,
		BackoffMax:  10 * time.Second,
		MaxRetries:  maxRetries,
		Logger:      logger,
	}

	for _, typ := range types {
		prefix, err := ErrorTypePrefix(opts.Stream.ErrorOutputPrefix, typ)
		if err != nil {
			return result, err
		}
		keys, err := opts.Store.List(ctx, prefix)
		if err != nil {
			return result, fmt.Errorf("redrive: list error objects under %s: %w", prefix, err)
		}
		for _, key := range keys {
			n, calls, err := redriveObject(ctx, opts, sender, key)
			result.Records += n
			result.Calls += calls
			if err != nil {
				return result, err
			}
			result.Objects++
			if opts.DryRun {
				logger.Info("redrive: would resend error object", "stream", opts.Stream.Name, "key", key, "records", n)
			} else {
				logger.Info("redrive: error object resent", "stream", opts.Stream.Name, "key", key, "records", n, "moved_to", RedrivenPrefix+key)
			}
		}
	}
	return result, nil
}

// redriveObject sends the records of one error object and moves it. It
// returns the number of records accepted and of batches sent.
func redriveObject(ctx context.Context, opts Options, sender *bridge.Sender, key string) (int, int, error) {
	body, err := opts.Store.Read(ctx, key)
	if err != nil {
		return 0, 0, fmt.Errorf("redrive: read %s: %w", key, err)
	}
	records, err := parseDocuments(body)
	if err != nil {
		return 0, 0, fmt.Errorf("redrive: %s: %w", key, err)
	}
	if opts.DryRun {
		return len(records), 0, nil
	}

	sent, calls := 0, 0
	for _, batch := range batches(records) {
		if err := sender.Send(ctx, batch); err != nil {
			return sent, calls, fmt.Errorf("redrive: resend records of %s: %w", key, err)
		}
		sent += len(batch)
		calls++
	}
	if err := opts.Store.Move(ctx, key, RedrivenPrefix+key); err != nil {
		return sent, calls, fmt.Errorf("redrive: records of %s were resent, but moving it under %s failed, so the next run resends them again: %w", key, RedrivenPrefix, err)
	}
	return sent, calls, nil
}

// parseDocuments returns the rawData of each newline-separated error
// document in body.
func parseDocuments(body []byte) ([]bridge.Record, error) {
	var records []bridge.Record
	scanner := bufio.NewScanner(bytes.NewReader(body))
	scanner.Buffer(nil, maxDocumentBytes)
	for line := 1; scanner.Scan(); line++ {
		if len(bytes.TrimSpace(scanner.Bytes())) == 0 {
			continue
		}
		var doc document
		if err := json.Unmarshal(scanner.Bytes(), &doc); err != nil {
			return nil, fmt.Errorf("line %d is not an error document: %w", line, err)
		}
		if len(doc.RawData) == 0 {
			return nil, fmt.Errorf("line %d has no rawData", line)
		}
		if len(doc.RawData) > firehose.MaxRecordBytes {
			return nil, fmt.Errorf("line %d: rawData has %d bytes, over the %d-byte record limit of PutRecordBatch", line, len(doc.RawData), firehose.MaxRecordBytes)
		}
		records = append(records, bridge.Record{Data: doc.RawData})
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("read error documents: %w", err)
	}
	return records, nil
}

// batches splits records into PutRecordBatch calls of at most
// firehose.MaxBatchRecords records and firehose.MaxBatchBytes bytes.
func batches(records []bridge.Record) [][]bridge.Record {
	var out [][]bridge.Record
	start, size := 0, 0
	for i, r := range records {
		if i > start && (i-start == firehose.MaxBatchRecords || size+len(r.Data) > firehose.MaxBatchBytes) {
			out = append(out, records[start:i])
			start, size = i, 0
		}
		size += len(r.Data)
	}
	if start < len(records) {
		out = append(out, records[start:])
	}
	return out
}

// ErrorTypePrefix returns the fixed part of an error output prefix for one
// error output type: the prefix with !{firehose:error-output-type} replaced
// by errorType, cut before the first other !{…} expression. For
// "errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/" and
// processing-failed it returns "errors/processing-failed/dt=".
func ErrorTypePrefix(errorOutputPrefix, errorType string) (string, error) {
	const marker = "!{firehose:error-output-type}"
	if !strings.Contains(errorOutputPrefix, marker) {
		return "", fmt.Errorf("redrive: error output prefix %q has no %s, so the error output types cannot be told apart", errorOutputPrefix, marker)
	}
	prefix := strings.ReplaceAll(errorOutputPrefix, marker, errorType)
	if i := strings.Index(prefix, "!{"); i >= 0 {
		prefix = prefix[:i]
	}
	return prefix, nil
}
