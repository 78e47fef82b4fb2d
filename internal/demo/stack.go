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
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsfirehose "github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/votestream/votestream"
	"github.com/votestream/votestream/bridge"
	"github.com/votestream/votestream/firehose"
	"github.com/votestream/votestream/functions/transform"
	"github.com/votestream/votestream/infra/loader"
	"github.com/votestream/votestream/infra/migrations"
	"github.com/votestream/votestream/internal/broker"
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

	// stopBridge cancels the bridge; bridgeStopped is closed when its Run returned.
	stopBridge    context.CancelFunc
	bridgeStopped chan struct{}
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
	st.pool, err = pgxpool.New(ctx, dbURL)
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
	return st, nil
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

// startBridge runs the bridge until close; the returned channel receives its
// error if it stops early.
func (st *stack) startBridge(ctx context.Context) <-chan error {
	done := make(chan error, 1)
	client := awsfirehose.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	}, func(o *awsfirehose.Options) {
		o.BaseEndpoint = aws.String("http://" + st.firehoseAddr)
	})

	b, err := bridge.New(bridge.Config{
		Brokers:    st.broker.Addrs(),
		Group:      bridgeGroup,
		StreamName: st.stream.Name,
		Firehose:   client,
		Logger:     st.cfg.Logger,
	})
	if err != nil {
		done <- err
		return done
	}

	bridgeCtx, cancel := context.WithCancel(ctx)
	st.stopBridge = cancel
	st.bridgeStopped = make(chan struct{})
	go func() {
		defer close(st.bridgeStopped)
		err := b.Run(bridgeCtx)
		if bridgeCtx.Err() == nil {
			if err == nil {
				err = errors.New("bridge returned")
			}
			done <- err
		}
	}()
	return done
}

// close stops every component in the reverse order of start.
func (st *stack) close(ctx context.Context) {
	log := st.cfg.Logger
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
