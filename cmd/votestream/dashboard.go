package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/votestream/votestream/internal/broker"
	"github.com/votestream/votestream/internal/dashboard"
	"github.com/votestream/votestream/internal/vote"
)

func init() {
	register("dashboard", "serve the live results page from aggregated_votes_topic", runDashboard)
}

func runDashboard(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dashboard", "dashboard [--brokers HOST:PORT,… | --state-dir DIR] [flags]", stderr)
	listen := fs.String("listen", envOr("VOTESTREAM_DASHBOARD_LISTEN", "127.0.0.1:8080"),
		"host:port to serve the page on; port 0 picks a free one [VOTESTREAM_DASHBOARD_LISTEN]")
	brokers := fs.String("brokers", envOr("VOTESTREAM_BROKERS", ""),
		"comma-separated Kafka brokers to read aggregated_votes_topic from; empty uses the local stack of --state-dir [VOTESTREAM_BROKERS]")
	stateDir := fs.String("state-dir", envOr("VOTESTREAM_STATE_DIR", ".votestream"),
		"state directory of 'votestream demo': its broker on --kafka-port is used when running, else started from STATE-DIR/kafka [VOTESTREAM_STATE_DIR]")
	kafkaPort := fs.Int("kafka-port", envInt("VOTESTREAM_KAFKA_PORT", 9092),
		"port on 127.0.0.1 of the demo's broker, and of the broker this command starts when none answers there; 0 starts one on a free port without looking [VOTESTREAM_KAFKA_PORT]")
	pushInterval := fs.Duration("push-interval", dashboard.DefaultPushInterval,
		"minimum time between two updates sent to one open page; changes within it are sent together")
	logLevel := fs.String("log-level", envOr("VOTESTREAM_LOG_LEVEL", "info"), "least severe log level written to stderr: debug, info, warn or error [VOTESTREAM_LOG_LEVEL]")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q: flags only, such as --state-dir .votestream", fs.Arg(0))
	}
	if *pushInterval <= 0 {
		return usagef("--push-interval %s must be positive, such as 250ms", *pushInterval)
	}
	if *kafkaPort < 0 || *kafkaPort > 65535 {
		return usagef("--kafka-port %d is out of range: use 0 to 65535", *kafkaPort)
	}
	logger, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}

	seeds := splitBrokers(*brokers)
	if len(seeds) == 0 {
		local := net.JoinHostPort("127.0.0.1", strconv.Itoa(*kafkaPort))
		if *kafkaPort != 0 && kafkaAnswers(ctx, local) {
			seeds = []string{local}
			logger.Info("dashboard: using the running broker", "address", local)
		} else {
			b, err := startStateBroker(ctx, *stateDir, *kafkaPort, logger)
			if err != nil {
				return err
			}
			defer b.Close()
			seeds = b.Addrs()
		}
	}

	server, err := dashboard.New(dashboard.Config{Brokers: seeds, PushInterval: *pushInterval, Logger: logger})
	if err != nil {
		return setupError{err}
	}
	listener, err := net.Listen("tcp", *listen)
	if err != nil {
		return setupError{fmt.Errorf("listen on %s: %w (choose another address with --listen)", *listen, err)}
	}
	fmt.Fprintf(stdout, "Dashboard on http://%s/ reading %s from %s; press Ctrl-C to stop\n",
		listener.Addr(), vote.AggregatesTopic, strings.Join(seeds, ","))

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- server.Run(runCtx) }()

	serveErr := server.Serve(runCtx, listener)
	cancel()
	if err := <-runErr; err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	if serveErr != nil && !errors.Is(serveErr, context.Canceled) {
		return serveErr
	}
	return ctx.Err()
}

func splitBrokers(list string) []string {
	var seeds []string
	for _, b := range strings.Split(list, ",") {
		if b = strings.TrimSpace(b); b != "" {
			seeds = append(seeds, b)
		}
	}
	return seeds
}

// kafkaAnswers reports whether a Kafka broker answers a metadata request at
// addr within two seconds.
func kafkaAnswers(ctx context.Context, addr string) bool {
	client, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RetryTimeout(2*time.Second))
	if err != nil {
		return false
	}
	defer client.Close()
	pingCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return client.Ping(pingCtx) == nil
}

// startStateBroker starts the embedded broker from the Kafka state of a
// demo's state directory and makes sure the snapshot topic exists.
func startStateBroker(ctx context.Context, stateDir string, port int, logger *slog.Logger) (*broker.Broker, error) {
	kafkaDir := filepath.Join(stateDir, "kafka")
	if info, err := os.Stat(kafkaDir); err != nil || !info.IsDir() {
		return nil, setupError{fmt.Errorf("no Kafka state in %s: run 'votestream demo --state-dir %s' first, or pass --brokers", kafkaDir, stateDir)}
	}
	// NOTE: kfake does not lock its data directory. A demo that runs on the
	// same state directory but on another --kafka-port would share it with
	// this broker, so pass the demo's --kafka-port here.
	b, err := broker.Start(broker.Options{Dir: kafkaDir, Port: port})
	if err != nil {
		return nil, setupError{fmt.Errorf("%w (choose another port with --kafka-port)", err)}
	}
	logger.Info("dashboard: started the embedded broker from the state directory", "dir", kafkaDir, "addrs", b.Addrs())

	client, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...))
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("create Kafka client for %v: %w", b.Addrs(), err)
	}
	defer client.Close()
	for _, topic := range broker.StandardTopics(1) {
		if topic.Name != vote.AggregatesTopic {
			continue
		}
		if err := broker.EnsureTopics(ctx, client, []broker.Topic{topic}); err != nil {
			b.Close()
			return nil, err
		}
	}
	return b, nil
}
