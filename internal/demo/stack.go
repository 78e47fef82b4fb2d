package demo

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsfirehose "github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/votestream/votestream"
	"github.com/votestream/votestream/bridge"
	"github.com/votestream/votestream/firehose"
	"github.com/votestream/votestream/functions/tally"
	"github.com/votestream/votestream/functions/transform"
	"github.com/votestream/votestream/infra/loader"
	"github.com/votestream/votestream/infra/migrations"
	"github.com/votestream/votestream/internal/broker"
	"github.com/votestream/votestream/internal/chaos"
	"github.com/votestream/votestream/internal/dashboard"
	"github.com/votestream/votestream/internal/election"
	"github.com/votestream/votestream/internal/pgcluster"
)

// bridgeGroup is the consumer group of the in-process bridge.
const bridgeGroup = "votestream-bridge"

// stack is the running local pipeline. Every component binds 127.0.0.1.
type stack struct {
	cfg Config

	broker *broker.Broker
	kafka  *kgo.Client

	cluster *pgcluster.Cluster // nil when Config.DatabaseURL is set
	pool    *pgxpool.Pool

	stream       firehose.Stream
	firehose     *firehose.Server
	httpServer   *http.Server
	firehoseAddr string
	bucketDir    string

	dashboard    *dashboard.Server
	dashboardURL string
	// stopDashboard ends the dashboard's Kafka reader and server.
	stopDashboard context.CancelFunc

	// stopBridge cancels the bridge; bridgeStopped is closed when its Run returned.
	stopBridge    context.CancelFunc
	bridgeStopped chan struct{}
	// bridgeRestarts counts restarts of a killed child bridge.
	bridgeRestarts atomic.Int64
	// stopTally and tallyStopped do the same for the tally consumer.
	stopTally    context.CancelFunc
	tallyStopped chan struct{}
}

func startStack(ctx context.Context, cfg Config) (_ *stack, err error) {
	st := &stack{cfg: cfg}
	defer func() {
		if err != nil {
			st.close(context.WithoutCancel(ctx))
		}
	}()
	log := cfg.Logger

	st.broker, err = broker.Start(broker.Options{Dir: filepath.Join(cfg.StateDir, "kafka"), Port: cfg.KafkaPort, Logger: log})
	if err != nil {
		return nil, setupErr(fmt.Errorf("%w (choose another port with --kafka-port)", err))
	}
	st.kafka, err = kgo.NewClient(kgo.SeedBrokers(st.broker.Addrs()...), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return nil, fmt.Errorf("create Kafka client: %w", err)
	}
	if err := broker.EnsureTopics(ctx, st.kafka, broker.StandardTopics(cfg.VotePartitions)); err != nil {
		return nil, err
	}

	dbURL := cfg.DatabaseURL
	if dbURL == "" {
		st.cluster, err = pgcluster.Start(ctx, pgcluster.Options{Dir: filepath.Join(cfg.StateDir, "postgres"), Port: cfg.PostgresPort, Logger: log})
		if err != nil {
			return nil, setupErr(err)
		}
		dbURL = st.cluster.URL()
	}
	poolConfig, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, setupErr(fmt.Errorf("connect to PostgreSQL: %w", err))
	}
	if !strings.Contains(dbURL, "pool_max_conns") {
		// The tally consumer holds one connection per worker during a
		// drain, and the transform, the dashboard and the queries need
		// theirs beside them.
		poolConfig.MaxConns = max(poolConfig.MaxConns, tally.DefaultWorkers+4)
	}
	st.pool, err = pgxpool.NewWithConfig(ctx, poolConfig)
	if err != nil {
		return nil, setupErr(fmt.Errorf("connect to PostgreSQL: %w", err))
	}
	if err := st.pool.Ping(ctx); err != nil {
		return nil, setupErr(fmt.Errorf("connect to PostgreSQL: %w", err))
	}
	applied, err := migrations.Apply(ctx, st.pool)
	if err != nil {
		return nil, err
	}
	if len(applied) > 0 {
		log.Info("applied migrations", "files", applied)
	}

	if err := st.startFirehose(ctx); err != nil {
		return nil, err
	}
	if cfg.DashboardPort >= 0 {
		if err := st.startDashboard(ctx); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// startDashboard serves the live dashboard, which follows
// aggregated_votes_topic, until close.
func (st *stack) startDashboard(ctx context.Context) error {
	srv, err := dashboard.New(dashboard.Config{Brokers: st.broker.Addrs(), Logger: st.cfg.Logger})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", st.cfg.DashboardPort))
	if err != nil {
		return setupErr(fmt.Errorf("listen for the dashboard: %w (choose another port with --dashboard-port)", err))
	}
	dashCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	st.dashboard, st.stopDashboard = srv, cancel
	st.dashboardURL = "http://" + ln.Addr().String() + "/"
	go func() {
		if err := srv.Run(dashCtx); err != nil && dashCtx.Err() == nil {
			st.cfg.Logger.Error("dashboard stopped reading Kafka", "err", err)
		}
	}()
	go func() {
		if err := srv.Serve(dashCtx, ln); err != nil && dashCtx.Err() == nil {
			st.cfg.Logger.Error("dashboard stopped serving", "err", err)
		}
	}()
	st.cfg.Logger.Info("dashboard listening", "url", st.dashboardURL)
	if st.cfg.Progress != nil {
		fmt.Fprintf(st.cfg.Progress, "live dashboard: %s\n", st.dashboardURL)
	}
	return nil
}

func (st *stack) startFirehose(ctx context.Context) error {
	cfg := st.cfg
	tmpl, err := loadTemplate(cfg.TemplatePath)
	if err != nil {
		return setupErr(err)
	}
	if len(tmpl.Streams) == 0 {
		return setupErr(errors.New("the template defines no delivery stream"))
	}
	st.stream = tmpl.Streams[0]

	secret, err := voterKeySecret(cfg.StateDir)
	if err != nil {
		return setupErr(err)
	}
	handler, err := transform.New(transform.Config{Pool: st.pool, VoterKeySecret: secret, Logger: cfg.Logger})
	if err != nil {
		return err
	}

	lakeDir := filepath.Join(cfg.StateDir, "lake")
	st.bucketDir = filepath.Join(lakeDir, st.stream.Bucket)
	st.firehose, err = firehose.NewServer(tmpl.Streams, firehose.Options{
		LakeDir:    lakeDir,
		StateDir:   filepath.Join(cfg.StateDir, "firehose"),
		Processors: map[string]firehose.ProcessorFunc{st.stream.Processor.FunctionLogicalID: handler.Handle},
		Logger:     cfg.Logger,
		BufferOverride: firehose.BufferOverride{
			ProcessorInterval: cfg.FlushInterval,
			DeliveryInterval:  cfg.FlushInterval,
		},
		Faults: firehose.Faults{
			Seed:             cfg.Seed,
			FailureRate:      cfg.Chaos.PutFailureRate,
			ThrottleRate:     cfg.Chaos.ThrottleRate,
			DropResponseRate: cfg.Chaos.DropResponseRate,
		},
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", cfg.FirehosePort))
	if err != nil {
		return setupErr(fmt.Errorf("listen for the local Firehose: %w (choose another port with --firehose-port)", err))
	}
	st.firehoseAddr = ln.Addr().String()
	st.httpServer = &http.Server{Handler: st.firehose, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := st.httpServer.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			cfg.Logger.Error("local Firehose stopped serving", "err", err)
		}
	}()
	cfg.Logger.Info("local Firehose listening", "addr", st.firehoseAddr, "stream", st.stream.Name)
	return nil
}

// loadTemplate reads the delivery streams from path, or from the template
// built into the binary when path is empty.
func loadTemplate(path string) (*firehose.Template, error) {
	if path == "" {
		return firehose.ParseTemplate(votestream.SAMTemplate)
	}
	return firehose.LoadTemplate(path)
}

// voterKeySecret returns the HMAC key for voter_key, created once per state
// directory so that keys stay stable across restarts of the demo.
func voterKeySecret(stateDir string) ([]byte, error) {
	path := filepath.Join(stateDir, "voter-key.secret")
	secret, err := os.ReadFile(path)
	if err == nil && len(secret) >= 32 {
		return secret, nil
	}
	secret = make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("generate voter key secret: %w", err)
	}
	if err := os.WriteFile(path, secret, 0o600); err != nil {
		return nil, fmt.Errorf("store voter key secret: %w", err)
	}
	return secret, nil
}

func (st *stack) loadElection(ctx context.Context, e *election.Election, day election.Day, cfg Config) error {
	bar := newProgressBar(cfg.Progress, "load voters into PostgreSQL", e.TotalVotes(), cfg.ProgressIsTerminal)
	stats, err := loader.Load(ctx, st.pool, e, day, func(done, _ int64) { bar.Update(done) })
	if err != nil {
		return fmt.Errorf("load election %s into PostgreSQL: %w", e.ID, err)
	}
	bar.Finish(e.TotalVotes())
	cfg.Logger.Info("election loaded", "election", e.ID, "stats", fmt.Sprintf("%+v", stats))
	return nil
}

// startBridge runs the bridge until close, in this process or, with
// Chaos.BridgeKills, as a child process that is killed and restarted. The
// returned channel receives its error if it stops early.
func (st *stack) startBridge(ctx context.Context) <-chan error {
	done := make(chan error, 1)
	bridgeCtx, cancel := context.WithCancel(ctx)
	st.stopBridge = cancel
	st.bridgeStopped = make(chan struct{})

	run := st.runBridge
	if st.cfg.Chaos.BridgeKills > 0 {
		run = st.superviseBridge
	}
	go func() {
		defer close(st.bridgeStopped)
		err := run(bridgeCtx)
		if bridgeCtx.Err() == nil {
			if err == nil {
				err = errors.New("bridge returned")
			}
			done <- err
		}
	}()
	return done
}

// runBridge runs the bridge in this process until ctx ends.
func (st *stack) runBridge(ctx context.Context) error {
	client := awsfirehose.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
		// The bridge retries failed entries and throttled calls itself; SDK
		// retries would hide throttling from its adaptive rate.
		RetryMaxAttempts: 1,
	}, func(o *awsfirehose.Options) {
		o.BaseEndpoint = aws.String("http://" + st.firehoseAddr)
	}, bridge.PresizedPutRecordBatch)
	b, err := bridge.New(bridge.Config{
		Brokers:    st.broker.Addrs(),
		Group:      bridgeGroup,
		StreamName: st.stream.Name,
		Firehose:   client,
		Logger:     st.cfg.Logger,
	})
	if err != nil {
		return err
	}
	return b.Run(ctx)
}

// superviseBridge runs `votestream bridge` as a child process and kills it
// with SIGKILL Chaos.BridgeKills times while Firehose accepts records.
func (st *stack) superviseBridge(ctx context.Context) error {
	binary := st.cfg.Chaos.BridgeBinary
	if binary == "" {
		var err error
		if binary, err = os.Executable(); err != nil {
			return fmt.Errorf("find the votestream binary for the child bridge: %w", err)
		}
	}
	logPath := filepath.Join(st.cfg.StateDir, "bridge-child.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open child bridge log: %w", err)
	}
	defer logFile.Close()

	result, err := chaos.Supervise(ctx, chaos.SuperviseConfig{
		Binary: binary,
		Args: []string{"bridge", "--brokers", strings.Join(st.broker.Addrs(), ","),
			"--firehose-endpoint", "http://" + st.firehoseAddr, "--stream", st.stream.Name,
			"--group", bridgeGroup, "--group-instance-id", "demo-bridge",
			"--metrics-listen", "", "--log-level", "warn"},
		Env:      []string{"AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local", "AWS_EC2_METADATA_DISABLED=true"},
		Kills:    st.cfg.Chaos.BridgeKills,
		Seed:     st.cfg.Seed,
		MinDelay: st.cfg.Chaos.KillDelayMin,
		MaxDelay: st.cfg.Chaos.KillDelayMax,
		Progress: func() int64 { return st.firehose.Stats().RecordsAccepted },
		OnKill:   func(int) { st.bridgeRestarts.Add(1) },
		Stdout:   logFile,
		Stderr:   logFile,
		Logger:   st.cfg.Logger,
	})
	st.cfg.Logger.Info("child bridge stopped", "kills", result.Kills, "restarts", result.Restarts)
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("supervise child bridge (log in %s): %w", logPath, err)
	}
	return nil
}

// startTally runs the tally consumer, which keeps the ledger and publishes
// snapshots, until close; the returned channel receives its error if it
// stops early.
func (st *stack) startTally(ctx context.Context) <-chan error {
	done := make(chan error, 1)
	tallyCtx, cancel := context.WithCancel(ctx)
	st.stopTally = cancel
	st.tallyStopped = make(chan struct{})
	go func() {
		defer close(st.tallyStopped)
		err := tally.RunLocal(tallyCtx, tally.LocalConfig{
			Brokers: st.broker.Addrs(),
			Pool:    st.pool,
			Logger:  st.cfg.Logger,
		})
		if tallyCtx.Err() == nil {
			if err == nil {
				err = errors.New("tally consumer returned")
			}
			done <- err
		}
	}()
	return done
}

// close stops every component in the reverse order of start.
func (st *stack) close(ctx context.Context) {
	log := st.cfg.Logger
	if st.stopDashboard != nil {
		st.stopDashboard()
	}
	if st.stopTally != nil {
		st.stopTally()
		<-st.tallyStopped
	}
	if st.stopBridge != nil {
		st.stopBridge()
		<-st.bridgeStopped
	}
	if st.httpServer != nil {
		shutdownCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		st.httpServer.Shutdown(shutdownCtx)
		cancel()
	}
	if st.firehose != nil {
		if err := st.firehose.Close(ctx); err != nil {
			log.Error("close local Firehose", "err", err)
		}
	}
	if st.pool != nil {
		st.pool.Close()
	}
	if st.cluster != nil {
		if err := st.cluster.Stop(ctx); err != nil {
			log.Error("stop PostgreSQL", "err", err)
		}
	}
	if st.kafka != nil {
		st.kafka.Close()
	}
	if st.broker != nil {
		st.broker.Close()
	}
}
