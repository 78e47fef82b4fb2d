package main

import (
	"context"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/votestream/votestream/infra/migrations"
)

func init() {
	register("migrate", "apply the schema migrations of infra/migrations to a PostgreSQL database", runMigrate)
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate", "migrate --database-url URL", stderr)
	url := fs.String("database-url", envOr("DATABASE_URL", ""), "PostgreSQL to migrate, as postgres://user:pass@host:port/db?sslmode=require [DATABASE_URL]")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q: migrate takes only flags", fs.Arg(0))
	}
	if *url == "" {
		return usagef("--database-url is missing: give it or set DATABASE_URL")
	}
	pool, err := pgxpool.New(ctx, *url)
	if err != nil {
		return usagef("--database-url: %v", err)
	}
	defer pool.Close()

	applied, err := migrations.Apply(ctx, pool)
	if err != nil {
		return err
	}
	for _, name := range applied {
		fmt.Fprintf(stdout, "applied %s\n", name)
	}
	fmt.Fprintf(stdout, "%d migrations applied; the schema is current\n", len(applied))
	return nil
}
