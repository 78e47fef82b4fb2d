package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	fh "github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/votestream/votestream/bridge"
	"github.com/votestream/votestream/firehose"
	"github.com/votestream/votestream/internal/vote"
)

// Groups of the two phases, distinct so that each reads from the start.
// Each consume-only pass appends its number to consumeOnlyGroup.
const (
	consumeOnlyGroup = "votestream-bench-consume-only"
	bridgeGroup      = "votestream-bench-bridge"
)

// consumeOnlyPasses is how many times the consume-only phase reads the
// topic. A pass lasts a fraction of a second, and single passes varied by up
// to a quarter from run to run, so the ceiling is the fastest pass.
const consumeOnlyPasses = 3

// streamName is the local Firehose stream the bridge sends to.
const streamName = "votestream-bench"

// progressPoll is how often measureBridge checks whether the bridge has
// sent every ballot. It bounds the error of the measured time.
const progressPoll = 2 * time.Millisecond

// measureCeiling runs consumeOnlyPasses consume-only passes and returns the
// fastest.
func measureCeiling(ctx context.Context, brokers []string, n int) (Phase, error) {
	var fastest Phase
	for pass := range consumeOnlyPasses {
		phase, err := measureConsumeOnly(ctx, brokers, n, fmt.Sprintf("%s-%d", consumeOnlyGroup, pass+1))
		if err != nil {
			return Phase{}, err
		}
		if phase.VotesPerSecond > fastest.VotesPerSecond {
			fastest = phase
		}
	}
	return fastest, nil
}

// measureConsumeOnly reads n records of the votes topic in a new consumer
// group and only counts them.
func measureConsumeOnly(ctx context.Context, brokers []string, n int, group string) (Phase, error) {
	client, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(vote.VotesTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
	)
	if err != nil {
		return Phase{}, fmt.Errorf("create the consume-only client: %w", err)
	}
	defer client.Close()

	startCPU, start := processCPU(), time.Now()
	read := 0
	for read < n {
		fetches := client.PollRecords(ctx, bridge.DefaultMaxPollRecords)
		if err := ctx.Err(); err != nil {
			return Phase{}, fmt.Errorf("consume-only: %d of %d ballots read: %w", read, n, err)
		}
		for _, fe := range fetches.Errors() {
			return Phase{}, fmt.Errorf("consume-only: fetch partition %d of %s: %w", fe.Partition, fe.Topic, fe.Err)
		}
		read += fetches.NumRecords()
	}
	return newPhase(n, time.Since(start), processCPU()-startCPU), nil
}

// measureBridge runs a bridge from the votes topic into a local Firehose
// until Firehose has accepted n ballots, and measures that span.
func measureBridge(ctx context.Context, brokers []string, cfg Config) (BridgePhase, error) {
	server, url, stop, err := startLocalFirehose(cfg)
	if err != nil {
		return BridgePhase{}, err
	}
	defer stop()

	counting := &countingFirehose{next: fh.New(fh.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("bench", "bench", ""),
		// The bridge retries itself, as the votestream bridge command sets up.
		RetryMaxAttempts: 1,
	}, bridge.PresizedPutRecordBatch)}
	b, err := bridge.New(bridge.Config{
		Brokers:            brokers,
		Group:              bridgeGroup,
		StreamName:         streamName,
		Firehose:           counting,
		TargetRecordBytes:  cfg.TargetRecordBytes,
		MaxConcurrentCalls: cfg.MaxConcurrentCalls,
		Logger:             cfg.Logger,
	})
	if err != nil {
		return BridgePhase{}, err
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	startCPU, start := processCPU(), time.Now()
	go func() { done <- b.Run(runCtx) }()

	ticker := time.NewTicker(progressPoll)
	defer ticker.Stop()
	for b.Stats().VotesSent < int64(cfg.Votes) {
		select {
		case err := <-done:
			if err == nil {
				err = errIncomplete
			}
			return BridgePhase{}, fmt.Errorf("bridge: %d of %d ballots sent: %w", b.Stats().VotesSent, cfg.Votes, err)
		case <-ctx.Done():
			cancel()
			<-done
			return BridgePhase{}, fmt.Errorf("bridge: %d of %d ballots sent: %w", b.Stats().VotesSent, cfg.Votes, ctx.Err())
		case <-ticker.C:
		}
	}
	elapsed, cpu := time.Since(start), processCPU()-startCPU
	stats := b.Stats()

	cancel()
	if err := <-done; err != nil {
		return BridgePhase{}, fmt.Errorf("bridge drain: %w", err)
	}
	if accepted := server.Stats().RecordsAccepted; accepted < stats.FirehoseRecords {
		return BridgePhase{}, fmt.Errorf("local Firehose accepted %d records, but the bridge counted %d", accepted, stats.FirehoseRecords)
	}
	return newBridgePhase(cfg.Votes, elapsed, cpu, stats, counting.calls.Load(), counting.bytes.Load()), nil
}

// startLocalFirehose serves a local Firehose on 127.0.0.1 with one stream
// that has no processor and no format conversion, and returns its URL and
// a function that stops it. Unless cfg.DurableFirehose is set, it only
// acknowledges.
func startLocalFirehose(cfg Config) (*firehose.Server, string, func(), error) {
	stream := firehose.Stream{
		LogicalID:         "BenchDeliveryStream",
		Name:              streamName,
		Bucket:            "bench",
		Prefix:            "votes/",
		ErrorOutputPrefix: "errors/!{firehose:error-output-type}/",
		// The largest buffering hints Firehose allows, so that delivery
		// writes as few objects as it can while the bridge is measured.
		BufferSize:     128 << 20,
		BufferInterval: 900 * time.Second,
	}
	server, err := firehose.NewServer([]firehose.Stream{stream}, firehose.Options{
		LakeDir:  filepath.Join(cfg.StateDir, "lake"),
		StateDir: filepath.Join(cfg.StateDir, "firehose"),
		Logger:   cfg.Logger,

		AcknowledgeOnly: !cfg.DurableFirehose,
	})
	if err != nil {
		return nil, "", nil, fmt.Errorf("start the local Firehose: %w", err)
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		server.Close(context.Background())
		return nil, "", nil, fmt.Errorf("listen for the local Firehose on 127.0.0.1: %w", err)
	}
	httpServer := &http.Server{Handler: server, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := httpServer.Serve(listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			cfg.Logger.Error("local Firehose HTTP server failed", "error", err)
		}
	}()

	stop := func() {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := httpServer.Shutdown(shutdownCtx); err != nil {
			cfg.Logger.Warn("local Firehose HTTP server did not shut down cleanly", "error", err)
		}
		<-served
		// The spool is in a directory that Run removes, so the records not
		// yet delivered need no flush.
		if err := server.Close(shutdownCtx); err != nil {
			cfg.Logger.Warn("local Firehose did not close cleanly", "error", err)
		}
	}
	return server, "http://" + listener.Addr().String(), stop, nil
}

// countingFirehose counts the PutRecordBatch calls and record data bytes
// that pass through it to next.
type countingFirehose struct {
	next  bridge.Firehose
	calls atomic.Int64
	bytes atomic.Int64
}

func (c *countingFirehose) PutRecordBatch(ctx context.Context, in *fh.PutRecordBatchInput, optFns ...func(*fh.Options)) (*fh.PutRecordBatchOutput, error) {
	size := 0
	for _, rec := range in.Records {
		size += len(rec.Data)
	}
	c.calls.Add(1)
	c.bytes.Add(int64(size))
	return c.next.PutRecordBatch(ctx, in, optFns...)
}

func newPhase(votes int, elapsed, cpu time.Duration) Phase {
	seconds := elapsed.Seconds()
	return Phase{Seconds: seconds, VotesPerSecond: float64(votes) / seconds, CPUSeconds: cpu.Seconds()}
}

func newBridgePhase(votes int, elapsed, cpu time.Duration, stats bridge.Stats, calls, dataBytes int64) BridgePhase {
	const mib = 1 << 20
	p := BridgePhase{
		Phase:           newPhase(votes, elapsed, cpu),
		Calls:           calls,
		FirehoseRecords: stats.FirehoseRecords,
		DataBytes:       dataBytes,
	}
	p.FirehoseRecordsPerSecond = float64(stats.FirehoseRecords) / p.Seconds
	p.CallsPerSecond = float64(calls) / p.Seconds
	p.DataMiBPerSecond = float64(dataBytes) / mib / p.Seconds
	if p.CPUSeconds > 0 {
		p.DataMiBPerCPUSecond = float64(dataBytes) / mib / p.CPUSeconds
	}
	if calls > 0 {
		p.RecordsPerCall = float64(stats.FirehoseRecords) / float64(calls)
		p.BytesPerCall = float64(dataBytes) / float64(calls)
		p.CallFill = p.BytesPerCall / bridge.FirehoseMaxBatchBytes
	}
	if stats.FirehoseRecords > 0 {
		p.VotesPerRecord = float64(stats.VotesSent) / float64(stats.FirehoseRecords)
	}
	if stats.VotesSent > 0 {
		p.BilledBytesPerVote = float64(stats.BilledBytes) / float64(stats.VotesSent)
		p.UnpackedBilledBytesPerVote = float64(stats.UnpackedBilledBytes) / float64(stats.VotesSent)
	}
	if stats.BilledBytes > 0 {
		p.PackingSaving = float64(stats.UnpackedBilledBytes) / float64(stats.BilledBytes)
	}
	return p
}
