package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/firehose"

	"github.com/votestream/votestream/bridge"
	"github.com/votestream/votestream/internal/vote"
)

func init() {
	register("bridge", "mirror votes_topic into a Firehose delivery stream", runBridge)
}

func runBridge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bridge", "bridge [flags]", stderr)
	brokers := fs.String("brokers", envOr("VOTESTREAM_BROKERS", "127.0.0.1:9092"), "Kafka seed brokers, comma-separated host:port (VOTESTREAM_BROKERS)")
	topic := fs.String("topic", envOr("VOTESTREAM_TOPIC", vote.VotesTopic), "topic of ballots to mirror (VOTESTREAM_TOPIC)")
	group := fs.String("group", envOr("VOTESTREAM_GROUP", bridge.DefaultGroup), "Kafka consumer group (VOTESTREAM_GROUP)")
	deadLetter := fs.String("dead-letter-topic", envOr("VOTESTREAM_DEAD_LETTER_TOPIC", vote.DeadLetterTopic), "topic for messages that are not valid ballots; it must exist (VOTESTREAM_DEAD_LETTER_TOPIC)")
	stream := fs.String("stream", envOr("VOTESTREAM_STREAM", "votestream-votes"), "Firehose delivery stream name (VOTESTREAM_STREAM)")
	region := fs.String("region", envOr("VOTESTREAM_REGION", "us-east-1"), "AWS region of the delivery stream (VOTESTREAM_REGION)")
	endpoint := fs.String("firehose-endpoint", envOr("VOTESTREAM_FIREHOSE_ENDPOINT", ""), "Firehose endpoint URL, such as http://127.0.0.1:4573 for the local Firehose; empty uses the AWS endpoint of --region (VOTESTREAM_FIREHOSE_ENDPOINT)")
	targetBytes := fs.Int("target-record-bytes", envInt("VOTESTREAM_TARGET_RECORD_BYTES", bridge.DefaultTargetRecordBytes), "bytes at which a packed Firehose record is closed; use a multiple of 5120, Firehose's billing unit (VOTESTREAM_TARGET_RECORD_BYTES)")
	logLevel := fs.String("log-level", envOr("VOTESTREAM_LOG_LEVEL", "info"), "log level: debug, info, warn or error (VOTESTREAM_LOG_LEVEL)")

	var flushInterval, drainTimeout time.Duration
	var envErr error
	durationFlag := func(target *time.Duration, name, env string, def time.Duration, usage string) {
		value := def
		if s := envOr(env, ""); s != "" {
			parsed, err := time.ParseDuration(s)
			if err != nil && envErr == nil {
				envErr = usagef("%s=%q is not a duration such as 200ms or 30s", env, s)
			}
			if err == nil {
				value = parsed
			}
		}
		fs.DurationVar(target, name, value, fmt.Sprintf("%s (%s)", usage, env))
	}
	durationFlag(&flushInterval, "flush-interval", "VOTESTREAM_FLUSH_INTERVAL", bridge.DefaultFlushInterval, "longest wait of a partly filled record or batch before it is sent")
	durationFlag(&drainTimeout, "drain-timeout", "VOTESTREAM_DRAIN_TIMEOUT", bridge.DefaultDrainTimeout, "on SIGTERM or SIGINT, longest wait for Firehose to acknowledge before the final commit")

	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if envErr != nil {
		return envErr
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q: bridge takes only flags", fs.Args())
	}
	logger, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}

	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(*region))
	if err != nil {
		return setupError{fmt.Errorf("load AWS configuration: %w", err)}
	}
	client := firehose.NewFromConfig(awsCfg, func(o *firehose.Options) {
		if *endpoint != "" {
			o.BaseEndpoint = aws.String(*endpoint)
		}
	})

	b, err := bridge.New(bridge.Config{
		Brokers:           splitList(*brokers),
		Topic:             *topic,
		Group:             *group,
		DeadLetterTopic:   *deadLetter,
		StreamName:        *stream,
		Firehose:          client,
		TargetRecordBytes: *targetBytes,
		FlushInterval:     flushInterval,
		DrainTimeout:      drainTimeout,
		Logger:            logger,
	})
	if err != nil {
		return usagef("%v", err)
	}
	// Run returns nil after a clean drain on SIGTERM, so the exit code is 0.
	return b.Run(ctx)
}

// splitList splits a comma-separated flag value and drops empty items.
func splitList(s string) []string {
	var items []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}
