package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

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
	noProcessor := fs.Bool("no-processor", false,
		"for testing only: pass records through without the Lambda processor, so that records of streams that partition on partitionKeyFromLambda keys go to the error prefix")
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
	// TODO: call the transform function over HTTP (a Lambda runtime API
	// endpoint) so that the standalone server can run its processor; until
	// then only the demo runs the transform in-process.
	if !*noProcessor {
		for _, s := range tmpl.Streams {
			if s.Processor != nil {
				return setupError{fmt.Errorf("stream %s needs its Lambda processor %s, which this command cannot call yet: run 'votestream demo', or pass --no-processor to test without it",
					s.Name, s.Processor.FunctionLogicalID)}
			}
		}
	}

	server, err := firehose.NewServer(tmpl.Streams, firehose.Options{
		LakeDir:                *lakeDir,
		StateDir:               *stateDir,
		AllowMissingProcessors: *noProcessor,
		Logger:                 logger,
		BufferOverride: firehose.BufferOverride{
			ProcessorInterval: *bufferInterval,
			DeliveryInterval:  *bufferInterval,
		},
	})
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
