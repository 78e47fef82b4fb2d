package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/votestream/votestream/glue/regions"
	"github.com/votestream/votestream/infra/elections"
	"github.com/votestream/votestream/infra/loader"
	"github.com/votestream/votestream/internal/election"
)

func init() {
	register("load", "register an election's regions, candidates and voters in PostgreSQL, as the transform and the ledger expect", runLoad)
}

func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("load", "load --election NAME|PATH --database-url URL [flags]", stderr)
	name := fs.String("election", envOr("VOTESTREAM_ELECTION", ""),
		fmt.Sprintf("bundled election (%v) or path of a results CSV with its .regions.csv beside it; required [VOTESTREAM_ELECTION]", elections.Names()))
	electionDate := fs.String("election-date", envOr("VOTESTREAM_ELECTION_DATE", ""), "polling day as YYYY-MM-DD; empty takes it from the election's .election.json, else the results file's modification date [VOTESTREAM_ELECTION_DATE]")
	url := fs.String("database-url", envOr("DATABASE_URL", ""), "PostgreSQL with the schema of votestream migrate, as postgres://user:pass@host:port/db?sslmode=require [DATABASE_URL]")
	lakeDir := fs.String("lake-dir", "", "also write the election's regions table, which turnout_by_region reads, under this directory laid out as the lake bucket, to copy with aws s3 cp --recursive DIR s3://LAKE-BUCKET/; empty writes none")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q: load takes only flags", fs.Arg(0))
	}
	if *name == "" {
		return usagef("--election is missing: name a bundled election (%v) or a results CSV", elections.Names())
	}
	if *url == "" {
		return usagef("--database-url is missing: give it or set DATABASE_URL")
	}

	path, cleanup, err := electionFile(*name)
	if err != nil {
		return err
	}
	defer cleanup()
	e, err := election.Load(path)
	if err != nil {
		return setupError{fmt.Errorf("--election %q: %w", *name, err)}
	}
	day, err := election.DefaultDay(path)
	if err != nil {
		return setupError{fmt.Errorf("--election %q: %w", *name, err)}
	}
	if *electionDate != "" {
		if day.Date, err = election.ParseDate(*electionDate); err != nil {
			return usagef("--election-date: %v", err)
		}
	}

	pool, err := pgxpool.New(ctx, *url)
	if err != nil {
		return usagef("--database-url: %v", err)
	}
	defer pool.Close()

	progress := newLoadProgress(stderr)
	stats, err := loader.Load(ctx, pool, e, day, progress.update)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" { // undefined_table
		return setupError{fmt.Errorf("%w: the database has no votestream schema, so run votestream migrate on it first", err)}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "election %s held on %s: %d regions, %d candidates, %d voters (%d copied now) in %s\n",
		e.ID, day.Date.Format("2006-01-02"), stats.Regions, stats.Candidates, stats.Voters, stats.VotersCopied, stats.Elapsed.Round(time.Millisecond))

	if *lakeDir != "" {
		written, err := regions.WriteLake(*lakeDir, e.ID, regions.FromElection(e))
		if err != nil {
			return fmt.Errorf("write the regions table: %w", err)
		}
		fmt.Fprintf(stdout, "regions table written to %s\n", written)
	}
	return nil
}

// loadProgress prints how many voters were copied, at most every
// progressLogInterval.
type loadProgress struct {
	w       io.Writer
	printed time.Time
}

func newLoadProgress(w io.Writer) *loadProgress {
	return &loadProgress{w: w, printed: time.Now()}
}

func (p *loadProgress) update(done, total int64) {
	if done < total && time.Since(p.printed) < progressLogInterval {
		return
	}
	p.printed = time.Now()
	fmt.Fprintf(p.w, "load: %5.1f%%  %d of %d voters copied\n", 100*float64(done)/float64(max(total, 1)), done, total)
}

// electionFile returns the results CSV that name gives: a bundled
// election, extracted to a temporary directory that cleanup removes, or the
// path itself. A name that is neither a bundled election nor a path ending
// in .csv is a usage error that lists the bundled ones.
func electionFile(name string) (path string, cleanup func(), err error) {
	if !elections.IsBundled(name) {
		if !strings.HasSuffix(name, ".csv") {
			return "", nil, usagef("--election %q is neither a bundled election (%v) nor a results CSV ending in .csv", name, elections.Names())
		}
		return name, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "votestream-election-")
	if err != nil {
		return "", nil, setupError{err}
	}
	cleanup = func() { os.RemoveAll(dir) }
	if path, err = elections.Extract(name, dir); err != nil {
		cleanup()
		return "", nil, setupError{err}
	}
	return path, cleanup, nil
}
