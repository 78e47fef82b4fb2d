package bench

import (
	"bytes"
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/votestream/votestream/firehose"
	"github.com/votestream/votestream/functions/transform"
)

// Rate is one timed stage.
type Rate struct {
	// Votes is the number of ballots the stage handled.
	Votes int `json:"votes"`
	// Seconds is the wall-clock time of the stage.
	Seconds float64 `json:"seconds"`
	// VotesPerSecond is Votes / Seconds. The stage runs on one goroutine,
	// so it is the rate of one core.
	VotesPerSecond float64 `json:"votes_per_second"`
	// ClientCPUSeconds is the user and system CPU time of this process
	// during the stage. It leaves out PostgreSQL's own CPU time.
	ClientCPUSeconds float64 `json:"client_cpu_seconds"`
}

// stopwatch measures wall-clock and process CPU time of one stage.
type stopwatch struct {
	started time.Time
	cpu     time.Duration
}

func startStopwatch() stopwatch {
	return stopwatch{started: time.Now(), cpu: processCPU()}
}

func (s stopwatch) rate(votes int) Rate {
	seconds := time.Since(s.started).Seconds()
	return Rate{
		Votes:            votes,
		Seconds:          seconds,
		VotesPerSecond:   float64(votes) / seconds,
		ClientCPUSeconds: (processCPU() - s.cpu).Seconds(),
	}
}

// processCPU returns the user and system CPU time of this process so far.
func processCPU() time.Duration {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}

// handlerPass is the outcome of one pass of a Handler over the workload.
type handlerPass struct {
	rate Rate
	// responses are the records of every invocation, in order.
	responses []events.KinesisFirehoseResponseRecord
}

// runHandler sends every invocation of w to h, one at a time, and checks that
// every record came back Ok.
func runHandler(ctx context.Context, h *transform.Handler, w *workload) (handlerPass, error) {
	var pass handlerPass
	watch := startStopwatch()
	for _, event := range w.invocations {
		resp, err := h.Handle(ctx, event)
		if err != nil {
			return pass, err
		}
		pass.responses = append(pass.responses, resp.Records...)
	}
	pass.rate = watch.rate(len(w.ballots))

	for _, r := range pass.responses {
		if r.Result != events.KinesisFirehoseTransformedStateOk {
			return pass, fmt.Errorf("record %s came back %s: the benchmark expects every record to transform", r.RecordID, r.Result)
		}
	}
	return pass, nil
}

// perBallotQuery is the lookup that enrichment without batching needs for
// each ballot: one primary-key probe of voters.
const perBallotQuery = `SELECT birth_year, region_code FROM voters WHERE election_id = $1 AND id = $2`

// runPerBallotQueries runs perBallotQuery once for every ballot of w, one at
// a time, on pool. It does no decoding, hashing or encoding, so it times
// only the database round trips that the batched lookup replaces.
func runPerBallotQueries(ctx context.Context, pool *pgxpool.Pool, w *workload) (Rate, error) {
	watch := startStopwatch()
	var birthYear int32
	var region string
	for _, v := range w.ballots {
		if err := pool.QueryRow(ctx, perBallotQuery, v.ElectionID, v.VoterID).Scan(&birthYear, &region); err != nil {
			return Rate{}, fmt.Errorf("look up voter %s of election %s: %w", v.VoterID, v.ElectionID, err)
		}
	}
	return watch.rate(len(w.ballots)), nil
}

// ParquetRate is the timed Parquet conversion of the handler's output.
type ParquetRate struct {
	Rows int `json:"rows"`
	// InputBytes is the size of the JSON rows converted, and OutputBytes the
	// size of the Parquet files written.
	InputBytes  int64   `json:"input_bytes"`
	OutputBytes int64   `json:"output_bytes"`
	Files       int     `json:"files"`
	Compression string  `json:"compression"`
	Seconds     float64 `json:"seconds"`
	// InputMBPerSecond is InputBytes in units of 10^6 bytes per second of
	// wall-clock time, on one goroutine.
	InputMBPerSecond float64 `json:"input_mb_per_second"`
	ClientCPUSeconds float64 `json:"client_cpu_seconds"`
}

// parquetFileBytes is the JSON input after which a Parquet file is written:
// 64 MiB, the smallest delivery buffer that Firehose accepts with record
// format conversion, so each file is as large as a minimal buffer makes it.
const parquetFileBytes = 64 << 20

// runParquet converts the Data of every record in responses with the
// stream's record format conversion and writes Parquet files to a counting
// discard, so that only conversion and encoding are timed.
func runParquet(conversion *firehose.Conversion, responses []events.KinesisFirehoseResponseRecord) (ParquetRate, error) {
	rc, err := firehose.NewRecordConverter(conversion)
	if err != nil {
		return ParquetRate{}, err
	}
	defer rc.Release()

	out := &countingWriter{}
	result := ParquetRate{Compression: conversion.Compression}
	var sinceFile int64
	watch := startStopwatch()
	for _, r := range responses {
		if err := rc.Add(r.Data); err != nil {
			return result, fmt.Errorf("convert record %s: %w", r.RecordID, err)
		}
		result.Rows += bytes.Count(r.Data, []byte("\n"))
		result.InputBytes += int64(len(r.Data))
		sinceFile += int64(len(r.Data))
		if sinceFile >= parquetFileBytes {
			if err := rc.WriteParquet(out); err != nil {
				return result, err
			}
			result.Files++
			sinceFile = 0
		}
	}
	if rc.Rows() > 0 {
		if err := rc.WriteParquet(out); err != nil {
			return result, err
		}
		result.Files++
	}
	rate := watch.rate(result.Rows)

	result.OutputBytes = out.n
	result.Seconds = rate.Seconds
	result.InputMBPerSecond = float64(result.InputBytes) / 1e6 / rate.Seconds
	result.ClientCPUSeconds = rate.ClientCPUSeconds
	return result, nil
}

// countingWriter discards what it is given and counts the bytes.
type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}
