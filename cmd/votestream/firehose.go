package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/votestream/votestream/firehose"
)

func init() {
	register("firehose", "serve the local Firehose API for the streams of sam-template.yaml", runFirehose)
}

func runFirehose(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("firehose", "firehose [flags]", stderr)
	listen := fs.String("listen", envOr("VOTESTREAM_FIREHOSE_LISTEN", "127.0.0.1:4573"),
		"host:port of the Firehose API; point SDK clients at http://HOST:PORT [VOTESTREAM_FIREHOSE_LISTEN]")
	stateDir := fs.String("state-dir", envOr("VOTESTREAM_STATE_DIR", "./.votestream"),
		"directory of the spool of accepted, undelivered records; a restart on the same directory delivers them [VOTESTREAM_STATE_DIR]")
	lakeDir := fs.String("lake-dir", envOr("VOTESTREAM_LAKE_DIR", ""),
		"directory used in place of S3: objects are written to LAKE-DIR/BUCKET/KEY (default STATE-DIR/lake) [VOTESTREAM_LAKE_DIR]")
	templatePath := fs.String("template", envOr("VOTESTREAM_TEMPLATE", "sam-template.yaml"),
		"SAM template whose AWS::KinesisFirehose::DeliveryStream resources are served [VOTESTREAM_TEMPLATE]")
	bufferInterval := fs.Duration("buffer-interval", 0,
		"replace the template's processor and delivery buffer intervals, such as 1s for a demo; 0 keeps the template's")
	s3Endpoint := fs.String("s3-endpoint", envOr("VOTESTREAM_S3_ENDPOINT", ""),
		"deliver to the template's buckets at this S3-compatible endpoint, such as http://127.0.0.1:9000, with path-style addressing and the credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (default test/test); empty writes to --lake-dir [VOTESTREAM_S3_ENDPOINT]")
	databaseURL := fs.String("database-url", envOr("DATABASE_URL", ""),
		"run the transform function in-process against this PostgreSQL, as postgres://user:pass@host:port/db [DATABASE_URL]")
	secretFile := fs.String("voter-key-secret-file", envOr("VOTER_KEY_SECRET_FILE", ""),
		"file whose content (trailing newline removed) is the HMAC-SHA256 key of voter_key for the in-process transform; empty reads the key from VOTER_KEY_SECRET [VOTER_KEY_SECRET_FILE]")
	processorURL := fs.String("processor-url", envOr("VOTESTREAM_PROCESSOR_URL", ""),
		"invoke the Lambda processor over HTTP at this base URL, such as http://127.0.0.1:9000 for the Lambda Runtime Interface Emulator [VOTESTREAM_PROCESSOR_URL]")
	processorTimeout := fs.Duration("processor-timeout", firehose.DefaultLambdaTimeout,
		"longest wait for one HTTP invocation of the Lambda processor")
	noProcessor := fs.Bool("no-processor", false,
		"for testing only: pass records through without the Lambda processor, so that records of streams that partition on partitionKeyFromLambda keys go to the error prefix")
	var faults firehose.Faults
	fs.Uint64Var(&faults.Seed, "fault-seed", 1, "seed of the injected faults; the same seed and calls give the same faults")
	fs.Float64Var(&faults.ThrottleRate, "throttle-rate", 0, "fraction of PutRecordBatch calls, 0 to 1, rejected whole with ServiceUnavailableException")
	fs.Float64Var(&faults.FailureRate, "put-failure-rate", 0, "fraction of PutRecordBatch entries, 0 to 1, failed with ServiceUnavailableException or InternalFailure (FailedPutCount > 0)")
	fs.DurationVar(&faults.Latency, "latency", 0, "delay added to every PutRecordBatch call, such as 50ms")
	fs.Float64Var(&faults.DropResponseRate, "drop-response-rate", 0, "fraction of PutRecordBatch calls, 0 to 1, whose records are accepted and whose connection is then closed without a response")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	if *lakeDir == "" {
		*lakeDir = filepath.Join(*stateDir, "lake")
	}
	if *bufferInterval < 0 {
		return usagef("--buffer-interval %s is negative", *bufferInterval)
	}

	logger := slog.New(slog.NewTextHandler(stderr, nil))
	tmpl, err := firehose.LoadTemplate(*templatePath)
	if err != nil {
		return setupError{err}
	}
	if len(tmpl.Streams) == 0 {
		return setupError{fmt.Errorf("template %s defines no AWS::KinesisFirehose::DeliveryStream", *templatePath)}
	}
	chosen := 0
	for _, set := range []bool{*databaseURL != "", *processorURL != "", *noProcessor} {
		if set {
			chosen++
		}
	}
	if chosen > 1 {
		return usagef("--database-url, --processor-url and --no-processor exclude each other: pass one")
	}

	var process firehose.ProcessorFunc
	switch {
	case *processorURL != "":
		if process, err = firehose.NewHTTPProcessor(*processorURL, firehose.HTTPProcessorOptions{Timeout: *processorTimeout}); err != nil {
			return usageError{err: err}
		}
	case *databaseURL != "":
		secret, err := readVoterKeySecret(*secretFile)
		if err != nil {
			return setupError{err}
		}
		handler, closePool, err := newInProcessTransform(ctx, *databaseURL, secret, logger)
		if err != nil {
			return setupError{err}
		}
		defer closePool()
		process = handler.Handle
	}
	processors := map[string]firehose.ProcessorFunc{}
	for _, s := range tmpl.Streams {
		if s.Processor == nil {
			continue
		}
		if process == nil && !*noProcessor {
			return setupError{fmt.Errorf("stream %s needs its Lambda processor %s: pass --database-url to run the transform in-process, --processor-url to invoke it over HTTP, or --no-processor to test without it",
				s.Name, s.Processor.FunctionLogicalID)}
		}
		if process != nil {
			processors[s.Processor.FunctionLogicalID] = process
		}
	}

	if !(faults.ThrottleRate >= 0 && faults.ThrottleRate <= 1 && faults.FailureRate >= 0 && faults.FailureRate <= 1 &&
		faults.DropResponseRate >= 0 && faults.DropResponseRate <= 1) || faults.Latency < 0 {
		return usagef("--throttle-rate, --put-failure-rate and --drop-response-rate must be 0 to 1, and --latency not negative")
	}
	var s3Client *s3.Client
	if *s3Endpoint != "" {
		s3Client, err = firehose.NewS3Client(firehose.S3Endpoint{
			URL:             *s3Endpoint,
			Region:          envOr("AWS_REGION", ""),
			AccessKeyID:     os.Getenv("AWS_ACCESS_KEY_ID"),
			SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
			PathStyle:       true,
		})
		if err != nil {
			return usageError{err: err}
		}
	}
	options := firehose.Options{
		LakeDir:                *lakeDir,
		StateDir:               *stateDir,
		Processors:             processors,
		AllowMissingProcessors: *noProcessor,
		Logger:                 logger,
		Faults:                 faults,
		BufferOverride: firehose.BufferOverride{
			ProcessorInterval: *bufferInterval,
			DeliveryInterval:  *bufferInterval,
		},
	}
	if s3Client != nil {
		// A nil *s3.Client in the interface field would not be nil.
		options.S3 = s3Client
	}
	server, err := firehose.NewServer(tmpl.Streams, options)
	if err != nil {
		return setupError{err}
	}

	listener, err := net.Listen("tcp", *listen)
	if err != nil {
		server.Close(context.Background())
		return setupError{fmt.Errorf("listen on %s: %w", *listen, err)}
	}
	httpServer := &http.Server{Handler: server, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "Firehose API on http://%s for streams %v; lake in %s\n", listener.Addr(), server.Streams(), *lakeDir)
	logger.Info("firehose: listening", "address", listener.Addr().String(), "template", *templatePath, "state_dir", *stateDir, "lake_dir", *lakeDir)

	serveErr := make(chan error, 1)
	go func() { serveErr <- httpServer.Serve(listener) }()

	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}

	shutdownCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if shutdownErr := httpServer.Shutdown(shutdownCtx); shutdownErr != nil {
		logger.Error("firehose: HTTP shutdown failed", "error", shutdownErr)
	}
	if closeErr := server.Close(shutdownCtx); closeErr != nil {
		logger.Error("firehose: final flush failed; undelivered records stay in the spool", "error", closeErr)
		err = errors.Join(err, closeErr)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return ctx.Err()
}
