// Package pgtest gives tests a fresh PostgreSQL database on a throwaway
// cluster that the test binary starts once and stops when it exits.
//
// A package that uses it runs its tests through Run:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }
//
// and each test calls URL. No test is skipped when PostgreSQL is missing: URL
// fails the test with the package to install, so that CI cannot pass without
// running the database tests.
package pgtest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/votestream/votestream/internal/pgcluster"
)

// startTimeout bounds initdb and the server start.
const startTimeout = 2 * time.Minute

var (
	running atomic.Bool

	once     sync.Once
	cluster  *pgcluster.Cluster
	dir      string
	startErr error

	databases atomic.Int64
)

// Run runs the tests of m and then stops the cluster, if a test started one,
// and removes its directory. It returns m.Run's exit code.
func Run(m *testing.M) int {
	running.Store(true)
	code := m.Run()

	if cluster != nil {
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		if err := cluster.Stop(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	if dir != "" {
		os.RemoveAll(dir)
	}
	return code
}

// URL creates an empty database for the calling test on the shared cluster and
// returns its connection URL. The database is dropped when the test ends.
func URL(t testing.TB) string {
	t.Helper()
	if !running.Load() {
		t.Fatal("pgtest.URL needs the cluster's cleanup: add `func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }` to the test package")
	}
	once.Do(start)
	if startErr != nil {
		t.Fatalf("start PostgreSQL for tests: %v", startErr)
	}

	name := databaseName(t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, cluster.DatabaseURL("postgres"))
	if err != nil {
		t.Fatalf("connect to test cluster: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create test database %q: %v", name, err)
	}

	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, cluster.DatabaseURL("postgres"))
		if err != nil {
			t.Errorf("connect to test cluster to drop %q: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		// FORCE disconnects sessions that a failed test left open.
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %q: %v", name, err)
		}
	})
	return cluster.DatabaseURL(name)
}

func start() {
	// A short directory under /tmp keeps the Unix socket path below its
	// limit, and /tmp can be entered by the postgres user when tests run as root.
	dir, startErr = os.MkdirTemp("", "votestream-pgtest-")
	if startErr != nil {
		return
	}
	if startErr = os.Chmod(dir, 0o755); startErr != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cluster, startErr = pgcluster.Start(ctx, pgcluster.Options{Dir: dir, Logger: logger})
}

var unsafeName = regexp.MustCompile(`[^a-z0-9_]+`)

// databaseName derives a valid, unique database name from a test name.
func databaseName(testName string) string {
	name := unsafeName.ReplaceAllString(strings.ToLower(testName), "_")
	// PostgreSQL truncates identifiers to 63 bytes.
	if len(name) > 40 {
		name = name[:40]
	}
	return fmt.Sprintf("t%d_%s", databases.Add(1), name)
}
