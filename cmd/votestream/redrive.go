package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	fh "github.com/aws/aws-sdk-go-v2/service/firehose"

	"github.com/votestream/votestream/firehose"
	"github.com/votestream/votestream/firehose/redrive"
)

func init() {
	register("redrive", "resend the records of a stream's error prefix to the stream, once each", runRedrive)
}

func runRedrive(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("redrive", "redrive [flags]", stderr)
	stateDir := fs.String("state-dir", envOr("VOTESTREAM_STATE_DIR", "./.votestream"),
		"state directory of the local Firehose; the lake defaults to STATE-DIR/lake [VOTESTREAM_STATE_DIR]")
	lakeDir := fs.String("lake-dir", envOr("VOTESTREAM_LAKE_DIR", ""),
		"lake directory that holds the error objects as LAKE-DIR/BUCKET/KEY (default STATE-DIR/lake) [VOTESTREAM_LAKE_DIR]")
	s3Endpoint := fs.String("s3-endpoint", envOr("VOTESTREAM_S3_ENDPOINT", ""),
		"read the error objects from the stream's bucket at this S3-compatible endpoint, such as http://127.0.0.1:9000, with path-style addressing and the credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (default test/test); empty reads --lake-dir [VOTESTREAM_S3_ENDPOINT]")
	templatePath := fs.String("template", envOr("VOTESTREAM_TEMPLATE", "sam-template.yaml"),
		"SAM template that defines the stream, its bucket and its error output prefix [VOTESTREAM_TEMPLATE]")
	streamName := fs.String("stream", envOr("VOTESTREAM_STREAM", ""),
		"delivery stream name, or logical id in the template; empty means the template's only stream [VOTESTREAM_STREAM]")
	endpoint := fs.String("endpoint", envOr("VOTESTREAM_FIREHOSE_ENDPOINT", "http://127.0.0.1:4573"),
		"Firehose API endpoint that receives the records [VOTESTREAM_FIREHOSE_ENDPOINT]")
	region := fs.String("region", envOr("AWS_REGION", firehose.LocalRegion),
		"region that signs the Firehose and S3 requests [AWS_REGION]")
	errorTypes := fs.String("error-types", firehose.ErrorProcessingFailed,
		"comma-separated error output types to redrive; only processing-failed documents hold the record as it was put, the others hold the transform's output")
	dryRun := fs.Bool("dry-run", false, "count the records and objects to redrive, and send and move nothing")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	if *endpoint == "" {
		return usagef("--endpoint is empty: pass the Firehose API URL, such as http://127.0.0.1:4573")
	}
	if *lakeDir == "" {
		*lakeDir = filepath.Join(*stateDir, "lake")
	}
	var types []string
	for _, typ := range strings.Split(*errorTypes, ",") {
		switch typ = strings.TrimSpace(typ); typ {
		case firehose.ErrorProcessingFailed, firehose.ErrorPartitioningFailed, firehose.ErrorFormatConversionFailed:
			types = append(types, typ)
		default:
			return usagef("--error-types: unknown error output type %q; use %s, %s or %s", typ,
				firehose.ErrorProcessingFailed, firehose.ErrorPartitioningFailed, firehose.ErrorFormatConversionFailed)
		}
	}

	tmpl, err := firehose.LoadTemplate(*templatePath)
	if err != nil {
		return setupError{err}
	}
	stream, err := chooseStream(tmpl, *streamName)
	if err != nil {
		return usageError{err: err}
	}

	key, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if key == "" && secret == "" {
		key, secret = "test", "test"
	}
	var store redrive.Store = redrive.DirStore{Dir: filepath.Join(*lakeDir, stream.Bucket)}
	source := filepath.Join(*lakeDir, stream.Bucket)
	if *s3Endpoint != "" {
		client, err := firehose.NewS3Client(firehose.S3Endpoint{URL: *s3Endpoint, Region: *region, AccessKeyID: key, SecretAccessKey: secret, PathStyle: true})
		if err != nil {
			return usageError{err: err}
		}
		store = redrive.S3Store{Client: client, Bucket: stream.Bucket}
		source = *s3Endpoint + "/" + stream.Bucket
	}

	logger := slog.New(slog.NewTextHandler(stderr, nil))
	client := fh.New(fh.Options{
		Region:       *region,
		BaseEndpoint: aws.String(*endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(key, secret, ""),
	})
	result, err := redrive.Run(ctx, redrive.Options{
		Stream:     stream,
		ErrorTypes: types,
		Store:      store,
		Firehose:   client,
		DryRun:     *dryRun,
		Logger:     logger,
	})
	verb := "resent"
	if *dryRun {
		verb = "would resend"
	}
	fmt.Fprintf(stdout, "%s %d records of %d error objects from %s to stream %s\n", verb, result.Records, result.Objects, source, stream.Name)
	return err
}

// chooseStream returns the template stream whose name or logical id is
// name, or the only stream when name is empty.
func chooseStream(tmpl *firehose.Template, name string) (firehose.Stream, error) {
	var names []string
	for _, s := range tmpl.Streams {
		names = append(names, s.Name)
	}
	if name == "" {
		if len(tmpl.Streams) == 1 {
			return tmpl.Streams[0], nil
		}
		return firehose.Stream{}, fmt.Errorf("the template defines %d streams (%s): pass --stream", len(names), strings.Join(names, ", "))
	}
	if s, ok := tmpl.Stream(name); ok {
		return s, nil
	}
	return firehose.Stream{}, fmt.Errorf("stream %q not found in the template; streams: %s", name, strings.Join(names, ", "))
}
