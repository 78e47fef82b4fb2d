package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/votestream/votestream/infra/elections"
	"github.com/votestream/votestream/internal/demo"
)

func init() {
	register("demo", "replay an election through the whole local stack and check the count", runDemo)
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", "demo [flags]", stderr)
	var cfg demo.Config
	fs.StringVar(&cfg.Election, "election", envOr("VOTESTREAM_ELECTION", elections.Default),
		fmt.Sprintf("bundled election (%v) or path of a results CSV with its .regions.csv beside it [VOTESTREAM_ELECTION]", elections.Names()))
	fs.StringVar(&cfg.ElectionDate, "election-date", envOr("VOTESTREAM_ELECTION_DATE", ""),
		"polling day as YYYY-MM-DD; default from the election's .election.json, else the results file's date [VOTESTREAM_ELECTION_DATE]")
	fs.StringVar(&cfg.StateDir, "state-dir", envOr("VOTESTREAM_STATE_DIR", ".votestream"),
		"directory for Kafka logs, PostgreSQL, Firehose spool and the lake; a second run resumes from it [VOTESTREAM_STATE_DIR]")
	fs.StringVar(&cfg.DatabaseURL, "database-url", envOr("DATABASE_URL", ""),
		"PostgreSQL to use, as postgres://user:pass@host:port/db; empty starts a cluster in the state directory with initdb [DATABASE_URL]")
	kafkaPort := fs.Int("kafka-port", envInt("VOTESTREAM_KAFKA_PORT", 9092), "port of the embedded Kafka broker on 127.0.0.1; 0 picks a free one [VOTESTREAM_KAFKA_PORT]")
	postgresPort := fs.Int("postgres-port", envInt("VOTESTREAM_POSTGRES_PORT", 0), "port of the started PostgreSQL on 127.0.0.1; 0 picks a free one [VOTESTREAM_POSTGRES_PORT]")
	firehosePort := fs.Int("firehose-port", envInt("VOTESTREAM_FIREHOSE_PORT", 4573), "port of the local Firehose API on 127.0.0.1; 0 picks a free one [VOTESTREAM_FIREHOSE_PORT]")
	dashboardPort := fs.Int("dashboard-port", envInt("VOTESTREAM_DASHBOARD_PORT", 8080), "port of the live dashboard on 127.0.0.1; 0 picks a free one, -1 serves none [VOTESTREAM_DASHBOARD_PORT]")
	fs.BoolVar(&cfg.Serve, "serve", false, "keep the stack and the dashboard running after the replay until interrupted")
	fs.IntVar(&cfg.Chaos.BridgeKills, "chaos-bridge-kills", 0, "run the bridge as a child process and kill it with SIGKILL this many times during the replay, restarting it each time")
	fs.Float64Var(&cfg.Chaos.PutFailureRate, "chaos-put-failure-rate", 0, "fraction of PutRecordBatch entries (0 to 1) that the local Firehose fails with ServiceUnavailableException or InternalFailure")
	fs.Float64Var(&cfg.Chaos.ThrottleRate, "chaos-throttle-rate", 0, "fraction of PutRecordBatch calls (0 to 1) that the local Firehose rejects with ServiceUnavailableException")
	fs.Float64Var(&cfg.Chaos.DropResponseRate, "chaos-drop-response-rate", 0, "fraction of PutRecordBatch calls (0 to 1) that the local Firehose accepts and then drops the connection before answering")
	partitions := fs.Int("partitions", 8, "partitions of votes_topic when the demo creates it")
	seed := fs.Uint64("seed", 1, "seed of the replay order; the same seed replays the same ballots in the same order")
	fs.StringVar(&cfg.TemplatePath, "template", envOr("VOTESTREAM_TEMPLATE", ""),
		"sam-template.yaml to read the delivery stream from; empty uses the template built into this binary [VOTESTREAM_TEMPLATE]")
	fs.DurationVar(&cfg.FlushInterval, "flush-interval", 5*time.Second,
		"longest time the local Firehose buffers records before it transforms them and writes Parquet; the replay's end flushes at once")
	faults := addFaultFlags(fs)
	jsonOut := fs.Bool("json", false, "print a JSON summary as the last line of standard output")
	logLevel := fs.String("log-level", envOr("VOTESTREAM_LOG_LEVEL", "warn"), "least severe log level written to stderr: debug, info, warn or error [VOTESTREAM_LOG_LEVEL]")
	err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q: flags only, such as --election uk-ge-2024", fs.Arg(0))
	}
	if *partitions < 1 || *partitions > 1000 {
		return usagef("--partitions %d is out of range: use 1 to 1000", *partitions)
	}
	for name, rate := range map[string]float64{
		"chaos-put-failure-rate":   cfg.Chaos.PutFailureRate,
		"chaos-throttle-rate":      cfg.Chaos.ThrottleRate,
		"chaos-drop-response-rate": cfg.Chaos.DropResponseRate,
	} {
		if rate < 0 || rate > 1 {
			return usagef("--%s %v is not a fraction from 0 to 1", name, rate)
		}
	}
	if cfg.Chaos.BridgeKills < 0 {
		return usagef("--chaos-bridge-kills %d must be 0 or more", cfg.Chaos.BridgeKills)
	}
	if cfg.FlushInterval <= 0 {
		return usagef("--flush-interval %s must be positive, such as 5s", cfg.FlushInterval)
	}
	if cfg.Faults, err = faults(); err != nil {
		return err
	}
	logger, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	cfg.KafkaPort, cfg.PostgresPort, cfg.FirehosePort, cfg.DashboardPort = *kafkaPort, *postgresPort, *firehosePort, *dashboardPort
	cfg.VotePartitions = int32(*partitions)
	cfg.Seed = *seed
	cfg.Logger = logger
	cfg.Progress = stderr
	cfg.ProgressIsTerminal = isTerminal(stderr)

	report := func(summary *demo.Summary) {
		demo.PrintReport(stdout, summary)
		if *jsonOut {
			line, err := json.Marshal(summary)
			if err != nil {
				fmt.Fprintf(stderr, "votestream demo: encode summary: %v\n", err)
				return
			}
			fmt.Fprintln(stdout, string(line))
		}
	}
	if cfg.Serve {
		cfg.ServeReady = func(summary *demo.Summary) {
			report(summary)
			if summary.DashboardURL != "" {
				fmt.Fprintf(stderr, "Dashboard: %s\n", summary.DashboardURL)
			}
			fmt.Fprintf(stderr, "Kafka brokers: %s (for simulate --brokers, kcat -b)\n", strings.Join(summary.KafkaBrokers, ","))
			fmt.Fprintf(stderr, "Firehose endpoint: %s (for aws --endpoint-url, bridge --firehose-endpoint)\n", summary.FirehoseEndpoint)
			fmt.Fprintln(stderr, "The stack keeps running; press Ctrl-C to stop it.")
		}
	}

	summary, err := demo.Run(ctx, cfg)
	if errors.Is(err, demo.ErrSetup) {
		return setupError{err}
	}
	if err != nil {
		return err
	}
	if !cfg.Serve {
		report(summary)
	}
	if !summary.Matches() {
		return fmt.Errorf("%w: %s", errMismatch, strings.Join(summary.Problems(), "; "))
	}
	return nil
}

// newLogger returns a text logger for a terminal or a JSON logger otherwise.
func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usagef("--log-level %q is invalid: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	if isTerminal(w) {
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return slog.New(slog.NewJSONHandler(w, opts)), nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// envInt returns the integer environment variable key, or def when it is
// unset or not an integer.
func envInt(key string, def int) int {
	n, err := strconv.Atoi(os.Getenv(key))
	if err != nil {
		return def
	}
	return n
}
