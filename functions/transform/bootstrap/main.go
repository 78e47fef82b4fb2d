// Command bootstrap is the Firehose transformation Lambda of votestream, built
// for the provided.al2023 runtime. It reads its settings from the environment:
//
//	DATABASE_URL            PostgreSQL URL or keyword/value string; when empty,
//	                        the standard PGHOST, PGPORT, PGDATABASE, PGUSER,
//	                        PGPASSWORD and PGSSLMODE variables are used
//	VOTER_KEY_SECRET        HMAC-SHA256 key of voter_key, required
//	DB_SECRET_ARN           Secrets Manager secret with the database username
//	                        and password (and optionally host, port, dbname),
//	                        read once per cold start; they replace those of
//	                        DATABASE_URL
//	DB_IAM_AUTH             true to sign an RDS IAM token for every new
//	                        connection instead of a password; needs the user
//	                        in DATABASE_URL or PGUSER, TLS, and AWS_REGION
//	DB_ACQUIRE_TIMEOUT      wait for a pool connection, such as 5s (default 5s)
//	DB_MAX_CONNS            pool size (default 2: Lambda runs one invocation
//	                        per instance at a time)
//	VOTER_CACHE_SIZE        voters cached between invocations (default 200000)
//	RESPONSE_BUDGET_BYTES   largest response in bytes (default 5900000)
//	MSK_TOPIC               kafka_topic of records from an MSK source
//	                        (default votes_topic)
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/votestream/votestream/functions/transform"
	"github.com/votestream/votestream/internal/dbauth"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	handler, err := newHandler(context.Background(), logger)
	if err != nil {
		logger.Error("transform Lambda failed to start", "error", err)
		os.Exit(1)
	}
	logger.Info("transform Lambda started")
	// HandleEvent, not Handle, so that a stream reading MSK works too.
	lambda.Start(handler.HandleEvent)
}

// newHandler builds the pool and the handler once per cold start. The pool
// connects lazily, so a cold start does not fail when the database is down;
// the first invocation does, and Firehose retries it.
func newHandler(ctx context.Context, logger *slog.Logger) (*transform.Handler, error) {
	secret := os.Getenv("VOTER_KEY_SECRET")
	if secret == "" {
		return nil, fmt.Errorf("VOTER_KEY_SECRET is not set: set it to a random key of 32 bytes or more")
	}

	maxConns, err := envInt32("DB_MAX_CONNS", 2)
	if err != nil {
		return nil, err
	}
	// PoolConfig prepares no named statements, so that RDS Proxy does not
	// pin connections and PgBouncer in transaction mode works.
	poolConfig, err := transform.PoolConfig(os.Getenv("DATABASE_URL"), maxConns)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	if err := dbauth.Configure(ctx, poolConfig, os.Getenv, logger); err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, poolConfig)
	if err != nil {
		return nil, fmt.Errorf("create connection pool: %w", err)
	}

	cfg := transform.Config{Pool: pool, VoterKeySecret: []byte(secret), MSKTopic: os.Getenv("MSK_TOPIC"), Logger: logger}
	if cfg.AcquireTimeout, err = envDuration("DB_ACQUIRE_TIMEOUT"); err != nil {
		return nil, err
	}
	if cfg.CacheSize, err = envInt("VOTER_CACHE_SIZE"); err != nil {
		return nil, err
	}
	if cfg.ResponseBudget, err = envInt("RESPONSE_BUDGET_BYTES"); err != nil {
		return nil, err
	}
	return transform.New(cfg)
}

func envInt(name string) (int, error) {
	s := os.Getenv(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%s=%q is not a whole number", name, s)
	}
	return n, nil
}

func envInt32(name string, fallback int32) (int32, error) {
	s := os.Getenv(name)
	if s == "" {
		return fallback, nil
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s=%q is not a whole number of 1 or more", name, s)
	}
	return int32(n), nil
}

func envDuration(name string) (time.Duration, error) {
	s := os.Getenv(name)
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q is not a positive duration such as 5s", name, s)
	}
	return d, nil
}
