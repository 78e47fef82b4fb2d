package transform

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultConnectTimeout bounds one connection attempt of a pool from
// PoolConfig when the connection string sets no connect_timeout.
const DefaultConnectTimeout = 5 * time.Second

// PoolConfig parses connString (a postgres:// URL or a keyword/value string;
// empty means the PG* environment variables) into a pool configuration for
// the handler. It prepares no named statements
// (pgx.QueryExecModeExec), so that RDS Proxy does not pin connections and
// PgBouncer in transaction mode works, and it limits the pool to maxConns
// connections.
func PoolConfig(connString string, maxConns int32) (*pgxpool.Config, error) {
	config, err := pgxpool.ParseConfig(connString)
	if err != nil {
		// pgx leaves the password out of its parse errors.
		return nil, fmt.Errorf("parse database connection string: %w", err)
	}
	config.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	if maxConns > 0 {
		config.MaxConns = maxConns
	}
	if config.ConnConfig.ConnectTimeout == 0 {
		config.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	return config, nil
}

// NewPool creates a pool from PoolConfig. The pool connects lazily, so an
// unreachable database fails the first invocation rather than NewPool.
func NewPool(ctx context.Context, connString string, maxConns int32) (*pgxpool.Pool, error) {
	config, err := PoolConfig(connString, maxConns)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, config)
	if err != nil {
		return nil, fmt.Errorf("create connection pool: %w", err)
	}
	return pool, nil
}
