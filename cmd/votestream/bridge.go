package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/votestream/votestream/bridge"
	"github.com/votestream/votestream/internal/vote"
)

func init() {
	register("bridge", "mirror votes_topic into a Firehose delivery stream", runBridge)
}

func runBridge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bridge", "bridge [flags]", stderr)
	envs := &envFlags{fs: fs}

	brokers := fs.String("brokers", envOr("VOTESTREAM_BROKERS", "127.0.0.1:9092"), "Kafka seed brokers, comma-separated host:port [VOTESTREAM_BROKERS]")
	topic := fs.String("topic", envOr("VOTESTREAM_TOPIC", vote.VotesTopic), "topic of ballots to mirror [VOTESTREAM_TOPIC]")
	group := fs.String("group", envOr("VOTESTREAM_GROUP", bridge.DefaultGroup), "Kafka consumer group [VOTESTREAM_GROUP]")
	instanceID := fs.String("group-instance-id", envOr("VOTESTREAM_GROUP_INSTANCE_ID", ""), "static group membership id, unique per running bridge, such as the host name; a restart with the same id gets its partitions back without a rebalance [VOTESTREAM_GROUP_INSTANCE_ID]")
	deadLetter := fs.String("dead-letter-topic", envOr("VOTESTREAM_DEAD_LETTER_TOPIC", vote.DeadLetterTopic), "topic for messages that are not valid ballots; created with the broker's defaults when missing [VOTESTREAM_DEAD_LETTER_TOPIC]")
	stream := fs.String("stream", envOr("VOTESTREAM_STREAM", "votestream-votes"), "Firehose delivery stream name [VOTESTREAM_STREAM]")
	region := fs.String("region", envOr("VOTESTREAM_REGION", "us-east-1"), "AWS region of the delivery stream and of MSK IAM signing [VOTESTREAM_REGION]")
	endpoint := fs.String("firehose-endpoint", envOr("VOTESTREAM_FIREHOSE_ENDPOINT", ""), "Firehose endpoint URL, such as http://127.0.0.1:4573 for the local Firehose; empty uses the AWS endpoint of --region [VOTESTREAM_FIREHOSE_ENDPOINT]")
	metricsListen := fs.String("metrics-listen", envOr("VOTESTREAM_METRICS_LISTEN", "127.0.0.1:9464"), "host:port of /metrics, /healthz and /readyz; empty turns them off [VOTESTREAM_METRICS_LISTEN]")
	logLevel := fs.String("log-level", envOr("VOTESTREAM_LOG_LEVEL", "info"), "log level: debug, info, warn or error; logs are JSON unless stderr is a terminal [VOTESTREAM_LOG_LEVEL]")

	targetBytes := envs.Int("target-record-bytes", "VOTESTREAM_TARGET_RECORD_BYTES", bridge.DefaultTargetRecordBytes, "bytes at which a packed Firehose record is closed; use a multiple of 5120, Firehose's billing unit")
	maxRecordBytes := envs.Int("max-record-bytes", "VOTESTREAM_MAX_RECORD_BYTES", bridge.FirehoseMaxRecordBytes, "largest Firehose record in bytes; a vote that does not fit goes to the dead-letter topic (maximum 1024000)")
	maxBatchRecords := envs.Int("max-batch-records", "VOTESTREAM_MAX_BATCH_RECORDS", bridge.FirehoseMaxBatchRecords, "maximum records per PutRecordBatch call (at most 500)")
	maxBatchBytes := envs.Int("max-batch-bytes", "VOTESTREAM_MAX_BATCH_BYTES", bridge.FirehoseMaxBatchBytes, "maximum bytes of record data per PutRecordBatch call (at most 4194304)")
	concurrency := envs.Int("max-concurrent-calls", "VOTESTREAM_MAX_CONCURRENT_CALLS", bridge.DefaultMaxConcurrentCalls, "maximum PutRecordBatch calls in flight; throttling lowers the limit in use down to 1")
	maxPending := envs.Int("max-pending-records", "VOTESTREAM_MAX_PENDING_RECORDS", bridge.DefaultMaxPendingRecords, "Kafka records read but not yet acknowledged at which the bridge stops reading")
	maxRetries := envs.Int("max-retries", "VOTESTREAM_MAX_RETRIES", 0, "retries of one batch after which the bridge exits with an error, leaving the batch uncommitted; 0 retries until shutdown")
	flushInterval := envs.Duration("flush-interval", "VOTESTREAM_FLUSH_INTERVAL", bridge.DefaultFlushInterval, "longest wait of a partly filled record or batch before it is sent")
	callTimeout := envs.Duration("call-timeout", "VOTESTREAM_CALL_TIMEOUT", bridge.DefaultCallTimeout, "time limit of one PutRecordBatch call; a call that times out is sent again")
	backoffBase := envs.Duration("backoff-base", "VOTESTREAM_BACKOFF_BASE", bridge.DefaultBackoffBase, "first retry backoff, doubled per retry up to --backoff-max, with full jitter")
	backoffMax := envs.Duration("backoff-max", "VOTESTREAM_BACKOFF_MAX", bridge.DefaultBackoffMax, "longest retry backoff")
	commitInterval := envs.Duration("commit-interval", "VOTESTREAM_COMMIT_INTERVAL", bridge.DefaultCommitInterval, "how often offsets are committed up to the watermark; after a crash, up to this much work is sent again")
	drainTimeout := envs.Duration("drain-timeout", "VOTESTREAM_DRAIN_TIMEOUT", bridge.DefaultDrainTimeout, "on SIGTERM or SIGINT, longest wait for Firehose to acknowledge before the final commit; keep it below the service manager's stop timeout")

	security := addKafkaSecurityFlags(fs, envs, region)

	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if envs.err != nil {
		return envs.err
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
		// The bridge retries failed calls and entries itself, with its own
		// backoff, and lowers its concurrency on throttling; SDK retries would
		// hide the throttling from it.
		o.RetryMaxAttempts = 1
	}, bridge.PresizedPutRecordBatch)

	kafkaOpts, err := security.opts(ctx, awsCfg.Credentials)
	if err != nil {
		return err
	}

	b, err := bridge.New(bridge.Config{
		Brokers:            splitList(*brokers),
		Topic:              *topic,
		Group:              *group,
		InstanceID:         *instanceID,
		DeadLetterTopic:    *deadLetter,
		StreamName:         *stream,
		Firehose:           client,
		TargetRecordBytes:  *targetBytes,
		MaxRecordBytes:     *maxRecordBytes,
		MaxBatchRecords:    *maxBatchRecords,
		MaxBatchBytes:      *maxBatchBytes,
		FlushInterval:      *flushInterval,
		MaxConcurrentCalls: *concurrency,
		MaxPendingRecords:  *maxPending,
		MaxRetries:         *maxRetries,
		BackoffBase:        *backoffBase,
		BackoffMax:         *backoffMax,
		CallTimeout:        *callTimeout,
		CommitInterval:     *commitInterval,
		DrainTimeout:       *drainTimeout,
		Logger:             logger,
		KafkaOpts:          kafkaOpts,
	})
	if err != nil {
		return usagef("%v", err)
	}

	if *metricsListen != "" {
		stop, err := serveBridgeMetrics(b, *metricsListen, logger)
		if err != nil {
			return setupError{err}
		}
		defer stop()
	}
	// Run returns nil after a clean drain on SIGTERM, so the exit code is 0.
	return b.Run(ctx)
}

// serveBridgeMetrics serves the bridge's /metrics, /healthz and /readyz on
// addr, with the Go runtime and process metrics beside the bridge's. The
// returned function stops the server.
func serveBridgeMetrics(b *bridge.Bridge, addr string, logger *slog.Logger) (stop func(), err error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(b.Collector(), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for metrics on %s: %w (choose another address with --metrics-listen, or turn it off with --metrics-listen=)", addr, err)
	}
	server := &http.Server{Handler: b.Handler(reg), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics server stopped", "address", ln.Addr().String(), "error", err)
		}
	}()
	logger.Info("metrics server listening", "address", ln.Addr().String(), "paths", "/metrics /healthz /readyz")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		server.Shutdown(ctx)
	}, nil
}

// envFlags defines flags whose default comes from an environment variable
// and remembers the first variable that does not parse.
type envFlags struct {
	fs  *flag.FlagSet
	err error
}

func (e *envFlags) lookup(env string, parse func(string) error, kind string) {
	s, ok := os.LookupEnv(env)
	if !ok || s == "" {
		return
	}
	if err := parse(s); err != nil && e.err == nil {
		e.err = usagef("%s=%q is not %s", env, s, kind)
	}
}

func (e *envFlags) Int(name, env string, def int, usage string) *int {
	value := def
	e.lookup(env, func(s string) (err error) { value, err = strconv.Atoi(s); return err }, "an integer")
	return e.fs.Int(name, value, fmt.Sprintf("%s [%s]", usage, env))
}

func (e *envFlags) Duration(name, env string, def time.Duration, usage string) *time.Duration {
	value := def
	e.lookup(env, func(s string) (err error) { value, err = time.ParseDuration(s); return err }, "a duration such as 200ms or 30s")
	return e.fs.Duration(name, value, fmt.Sprintf("%s [%s]", usage, env))
}

func (e *envFlags) Bool(name, env string, def bool, usage string) *bool {
	value := def
	e.lookup(env, func(s string) (err error) { value, err = strconv.ParseBool(s); return err }, "true or false")
	return e.fs.Bool(name, value, fmt.Sprintf("%s [%s]", usage, env))
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
