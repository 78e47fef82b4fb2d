// Command bootstrap is the tally Lambda of votestream for an MSK event
// source on votes_topic, built for the provided.al2023 runtime. It reads its
// settings from the environment:
//
//	DATABASE_URL           PostgreSQL URL or keyword/value string; when empty,
//	                       the standard PGHOST, PGPORT, PGDATABASE, PGUSER,
//	                       PGPASSWORD and PGSSLMODE variables are used
//	DB_MAX_CONNS           pool size (default 2: Lambda runs one invocation
//	                       per instance at a time)
//	DB_SECRET_ARN          Secrets Manager secret whose username and password
//	                       (and optionally host, port and dbname) replace
//	                       those of DATABASE_URL, read at each cold start
//	DB_IAM_AUTH            true signs an RDS IAM token per connection in
//	                       place of a password; not with DB_SECRET_ARN
//
// and for the Kafka client that publishes the snapshots:
//
//	AGGREGATES_BROKERS     bootstrap brokers, comma-separated host:port, of
//	                       the listener that the settings below select (MSK:
//	                       9092 plain text, 9094 TLS, 9096 SCRAM, 9098 IAM);
//	                       required
//	AGGREGATES_TOPIC       topic of the snapshots (default aggregated_votes_topic)
//	KAFKA_TLS              true connects with TLS (default false)
//	KAFKA_TLS_CA           PEM file of the CAs of the brokers' certificates;
//	                       empty uses the system roots, which MSK's
//	                       certificates chain to
//	KAFKA_TLS_CERT         PEM client certificate for mutual TLS, and
//	KAFKA_TLS_KEY          its key; both or neither
//	KAFKA_TLS_SERVER_NAME  host name to verify in the brokers' certificates;
//	                       empty uses each broker's host
//	KAFKA_SASL_MECHANISM   SCRAM-SHA-512 or SCRAM-SHA-256, AWS_MSK_IAM, or
//	                       empty for none
//	KAFKA_SASL_SECRET_ARN  for SCRAM: Secrets Manager secret with the JSON
//	                       keys username and password, as MSK stores them
//	KAFKA_SASL_USERNAME    for SCRAM without a secret: user name and
//	KAFKA_SASL_PASSWORD    password
//
// AWS_MSK_IAM needs KAFKA_TLS=true and signs with the execution role's
// credentials from the AWS SDK's default chain.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/votestream/votestream/functions/tally"
	"github.com/votestream/votestream/internal/dbauth"
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
// when a dependency is down, and the event source retries it. The secrets
// of DB_SECRET_ARN and of SCRAM are the exception: they are read here, so
// the cold start fails when Secrets Manager does not respond.
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
	if err := dbauth.Configure(ctx, poolConfig, os.Getenv, logger); err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, poolConfig)
	if err != nil {
		return nil, fmt.Errorf("create connection pool: %w", err)
	}

	client, topic, err := newKafkaClient(ctx, os.Getenv, loadAWSConfig, logger)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return tally.NewHandler(pool, tally.KafkaPublisher{Client: client, Topic: topic}, logger)
}

// loadAWSConfig loads the AWS configuration of the function: the execution
// role's credentials and AWS_REGION, which Lambda sets.
func loadAWSConfig(ctx context.Context) (aws.Config, error) {
	return awsconfig.LoadDefaultConfig(ctx)
}
