// Command bootstrap is the tally Lambda of votestream for an MSK event
// source on votes_topic, built for the provided.al2023 runtime. It reads its
// settings from the environment:
//
//	DATABASE_URL         PostgreSQL URL or keyword/value string; when empty,
//	                     the standard PGHOST, PGPORT, PGDATABASE, PGUSER,
//	                     PGPASSWORD and PGSSLMODE variables are used
//	DB_MAX_CONNS         pool size (default 2: Lambda runs one invocation
//	                     per instance at a time)
//	AGGREGATES_BROKERS   Kafka bootstrap servers for the snapshots,
//	                     comma-separated host:port; required
//	AGGREGATES_TOPIC     topic of the snapshots (default aggregated_votes_topic)
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/votestream/votestream/functions/tally"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	handler, err := newHandler(context.Background(), logger)
	if err != nil {
		logger.Error("tally Lambda failed to start", "error", err)
		os.Exit(1)
	}
	logger.Info("tally Lambda started")
	lambda.Start(handler.HandleKafkaEvent)
}

// newHandler builds the pool and the Kafka producer once per cold start.
// Both connect lazily, so the first invocation, not the cold start, fails
// when a dependency is down, and the event source retries it.
func newHandler(ctx context.Context, logger *slog.Logger) (*tally.Handler, error) {
	poolConfig, err := pgxpool.ParseConfig(os.Getenv("DATABASE_URL"))
	if err != nil {
		return nil, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	// No named prepared statements, so that RDS Proxy does not pin
	// connections and PgBouncer in transaction mode works.
	poolConfig.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	poolConfig.MaxConns = 2
	if s := os.Getenv("DB_MAX_CONNS"); s != "" {
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("DB_MAX_CONNS=%q is not a whole number of 1 or more", s)
		}
		poolConfig.MaxConns = int32(n)
	}
	if poolConfig.ConnConfig.ConnectTimeout == 0 {
		poolConfig.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(ctx, poolConfig)
	if err != nil {
		return nil, fmt.Errorf("create connection pool: %w", err)
	}

	brokers := os.Getenv("AGGREGATES_BROKERS")
	if brokers == "" {
		return nil, fmt.Errorf("AGGREGATES_BROKERS is not set: set it to the MSK bootstrap servers, comma-separated host:port")
	}
	// TODO: MSK clusters usually require TLS and IAM or SCRAM authentication; add kgo.DialTLSConfig and a SASL mechanism before deploying against one.
	client, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		return nil, fmt.Errorf("AGGREGATES_BROKERS=%q: %w", brokers, err)
	}
	return tally.NewHandler(pool, tally.KafkaPublisher{Client: client, Topic: os.Getenv("AGGREGATES_TOPIC")}, logger)
}
