package pgcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Database is the database that Start creates and URL points to.
const Database = "votestream"

// Superuser is the role that initdb creates. Every local connection is
// trusted, so it needs no password.
const Superuser = "postgres"

// Names inside Options.Dir.
const (
	dataDirName    = "data"
	socketDirName  = "socket"
	logFileName    = "postgres.log"
	initMarkerName = "initialized"
	// runtimeConfName is included by postgresql.conf and rewritten on every
	// Start, so that the port and the tuning follow the code of this package.
	runtimeConfName = "votestream.conf"
)

// maxSocketPath is the longest Unix socket path Linux accepts, minus the
// terminating NUL.
const maxSocketPath = 107

// pgCtlTimeout bounds how long pg_ctl waits for the server to start or stop.
const pgCtlTimeout = 120 * time.Second

// Options configures Start.
type Options struct {
	// Dir holds the cluster: the data directory, the Unix socket directory
	// and the server log. Start creates it when missing and reuses a cluster
	// that an earlier Start initialised there, with its data. Required.
	Dir string

	// Port is the TCP port on 127.0.0.1. Zero picks a free port on every
	// Start, so URL changes between runs.
	Port int

	// Logger receives start and stop messages. Nil discards them.
	Logger *slog.Logger
}

// Cluster is a running PostgreSQL server started by Start.
type Cluster struct {
	dir    string
	port   int
	bin    binaries
	user   *serverUser
	logger *slog.Logger
}

// Start initialises a cluster in opts.Dir if none is there, starts it, and
// creates the database Database. A server left running by an earlier process
// on the same directory is stopped first, and a postmaster.pid whose process
// is gone is removed. The caller owns the server and must call Stop: the
// server is a separate process and outlives this one otherwise.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.Dir == "" {
		return nil, errors.New("pgcluster: Options.Dir is missing: set the directory that holds the cluster")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("resolve cluster directory %q: %w", opts.Dir, err)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	user, err := unprivilegedUser()
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, port: opts.Port, bin: bin, user: user, logger: logger.With("dir", dir)}

	if err := c.prepareDir(ctx); err != nil {
		return nil, err
	}
	if err := c.recoverStaleServer(ctx); err != nil {
		return nil, err
	}
	if err := c.startServer(ctx, opts.Port == 0); err != nil {
		return nil, err
	}
	if err := c.createDatabase(ctx, Database); err != nil {
		_ = c.Stop(context.WithoutCancel(ctx))
		return nil, err
	}
	return c, nil
}

// URL returns the connection URL of the database Database.
func (c *Cluster) URL() string {
	return c.DatabaseURL(Database)
}

// DatabaseURL returns the connection URL of database name on this cluster.
func (c *Cluster) DatabaseURL(name string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(Superuser),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)),
		Path:     "/" + name,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Port returns the TCP port the server listens on.
func (c *Cluster) Port() int {
	return c.port
}

// Dir returns the absolute directory that holds the cluster.
func (c *Cluster) Dir() string {
	return c.dir
}

// Stop shuts the server down with pg_ctl's fast mode: open sessions are
// disconnected and open transactions rolled back, and committed data is kept.
func (c *Cluster) Stop(ctx context.Context) error {
	if _, err := c.pgCtl(ctx, "stop", "-D", c.dataDir(), "-m", "fast", "-w", "-t", seconds(pgCtlTimeout)); err != nil {
		return fmt.Errorf("stop PostgreSQL in %s: %w", c.dataDir(), err)
	}
	c.logger.Info("PostgreSQL stopped", "port", c.port)
	return nil
}

func (c *Cluster) dataDir() string { return filepath.Join(c.dir, dataDirName) }

func (c *Cluster) socketDir() string { return filepath.Join(c.dir, socketDirName) }

func (c *Cluster) logFile() string { return filepath.Join(c.dir, logFileName) }

// prepareDir creates the directory tree and runs initdb unless an earlier
// Start completed it. The marker file is written only after initdb succeeds,
// so a data directory left by a killed initdb is removed and built again.
func (c *Cluster) prepareDir(ctx context.Context) error {
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return fmt.Errorf("create cluster directory: %w", err)
	}
	if err := c.user.checkSearchable(c.dir); err != nil {
		return err
	}
	if err := os.MkdirAll(c.socketDir(), 0o700); err != nil {
		return fmt.Errorf("create socket directory: %w", err)
	}

	marker := filepath.Join(c.dir, initMarkerName)
	_, err := os.Stat(marker)
	initialised := err == nil
	if !initialised {
		if err := os.RemoveAll(c.dataDir()); err != nil {
			return fmt.Errorf("remove incomplete data directory: %w", err)
		}
	}
	if err := c.user.chownTree(c.dir); err != nil {
		return fmt.Errorf("hand cluster directory to user %s: %w", c.user.name, err)
	}
	if initialised {
		return nil
	}

	c.logger.Info("initialising PostgreSQL cluster", "initdb", c.bin.initdb)
	out, err := c.run(ctx, c.bin.initdb,
		"-D", c.dataDir(), "-U", Superuser, "--auth=trust", "--encoding=UTF8", "--locale=C")
	if err != nil {
		return fmt.Errorf("initdb in %s: %w\n%s", c.dataDir(), err, out)
	}
	include := fmt.Sprintf("\n# Written by votestream: settings that each start rewrites.\ninclude_if_exists = '%s'\n", runtimeConfName)
	if err := appendFile(filepath.Join(c.dataDir(), "postgresql.conf"), include); err != nil {
		return err
	}
	if err := os.WriteFile(marker, []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o600); err != nil {
		return fmt.Errorf("write initialisation marker: %w", err)
	}
	return c.user.chownTree(c.dir)
}

// recoverStaleServer deals with a postmaster.pid left by an earlier run. A
// server that still runs on this data directory is stopped. A pid file whose
// process is gone, or now belongs to a program other than postgres (process
// ids are reused), is removed, because PostgreSQL refuses to start over a pid
// file whose process exists.
func (c *Cluster) recoverStaleServer(ctx context.Context) error {
	pidFile := filepath.Join(c.dataDir(), "postmaster.pid")
	data, err := os.ReadFile(pidFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", pidFile, err)
	}

	firstLine, _, _ := strings.Cut(string(data), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(firstLine))
	if err == nil && pid > 0 && isPostgresProcess(pid) {
		c.logger.Warn("stopping PostgreSQL left running by an earlier process", "pid", pid)
		if _, err := c.pgCtl(ctx, "stop", "-D", c.dataDir(), "-m", "fast", "-w", "-t", seconds(pgCtlTimeout)); err != nil {
			return fmt.Errorf("stop PostgreSQL (pid %d) left running in %s: %w", pid, c.dataDir(), err)
		}
		return nil
	}

	c.logger.Warn("removing stale postmaster.pid", "pid", firstLine)
	if err := os.Remove(pidFile); err != nil {
		return fmt.Errorf("remove stale %s: %w", pidFile, err)
	}
	return nil
}

// isPostgresProcess reports whether pid runs the postgres program. It reads
// /proc, so on systems without it a live pid is taken for postgres.
func isPostgresProcess(pid int) bool {
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err == nil {
		return strings.TrimSpace(string(comm)) == "postgres"
	}
	if _, statErr := os.Stat("/proc/self"); statErr == nil {
		// /proc exists but not this pid: the process is gone.
		return false
	}
	p, err := os.FindProcess(pid)
	return err == nil && p.Signal(syscall.Signal(0)) == nil
}

// startServer writes the runtime settings and runs pg_ctl start. With
// pickPort, it tries a fresh free port again when another process took the
// chosen one between the probe and the server's bind.
func (c *Cluster) startServer(ctx context.Context, pickPort bool) error {
	const attempts = 3
	for attempt := 1; ; attempt++ {
		if pickPort {
			port, err := freePort()
			if err != nil {
				return err
			}
			c.port = port
		}
		if err := c.writeRuntimeConf(); err != nil {
			return err
		}

		logStart := fileSize(c.logFile())
		out, err := c.pgCtl(ctx, "start", "-D", c.dataDir(), "-l", c.logFile(), "-w", "-t", seconds(pgCtlTimeout))
		if err == nil {
			c.logger.Info("PostgreSQL started", "port", c.port, "log", c.logFile())
			return nil
		}
		serverLog := readFrom(c.logFile(), logStart)
		if pickPort && attempt < attempts && strings.Contains(serverLog, "could not bind") {
			c.logger.Warn("port taken before PostgreSQL could bind it, retrying with another", "port", c.port, "attempt", attempt)
			continue
		}
		return fmt.Errorf("start PostgreSQL on 127.0.0.1:%d from %s: %w\n%s\nserver log:\n%s", c.port, c.dataDir(), err, out, serverLog)
	}
}

// writeRuntimeConf writes the settings of a throwaway cluster. fsync stays on
// so that a demo's data survives a machine crash.
func (c *Cluster) writeRuntimeConf() error {
	socketDir := c.socketDir()
	if len(socketDir)+len("/.s.PGSQL.65535.lock") > maxSocketPath {
		c.logger.Warn("cluster directory is too long for a Unix socket path, listening on TCP only", "socket_dir", socketDir)
		socketDir = ""
	}
	conf := strings.Join([]string{
		"# Rewritten by votestream on every start; edits here are lost.",
		"listen_addresses = '127.0.0.1'",
		"port = " + strconv.Itoa(c.port),
		"unix_socket_directories = " + quoteConf(socketDir),
		// The demo runs the loader, the transform, the tally consumer,
		// the dashboard and tests against one server.
		"max_connections = 200",
		// Bulk loads of a national voter register write gigabytes of WAL;
		// fewer checkpoints make COPY faster.
		"max_wal_size = '4GB'",
		"checkpoint_timeout = '15min'",
		"log_min_duration_statement = -1",
		"",
	}, "\n")
	path := filepath.Join(c.dataDir(), runtimeConfName)
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if c.user != nil {
		if err := os.Chown(path, int(c.user.uid), int(c.user.gid)); err != nil {
			return fmt.Errorf("hand %s to user %s: %w", path, c.user.name, err)
		}
	}
	return nil
}

// createDatabase creates database name unless it exists.
func (c *Cluster) createDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, c.DatabaseURL("postgres"))
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL on port %d: %w", c.port, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))

	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("look up database %q: %w", name, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("create database %q: %w", name, err)
	}
	return nil
}

// pgCtl runs pg_ctl with args as the server user and returns its output.
func (c *Cluster) pgCtl(ctx context.Context, args ...string) ([]byte, error) {
	return c.run(ctx, c.bin.pgCtl, args...)
}

func (c *Cluster) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := c.user.command(name, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		var execErr *exec.Error
		if errors.As(err, &execErr) || errors.Is(err, os.ErrNotExist) {
			return nil, missingBinaryError(name, err)
		}
		return nil, fmt.Errorf("run %s: %w", name, err)
	}

	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.Bytes(), err
	case <-ctx.Done():
		// pg_ctl only waits on the server, so killing it leaves the
		// server as it is; the next Start recovers from that state.
		_ = cmd.Process.Kill()
		<-done
		return out.Bytes(), ctx.Err()
	}
}

// freePort returns a TCP port on 127.0.0.1 that the kernel reports free.
// Another process can take it before PostgreSQL binds it, and startServer
// then retries.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port on 127.0.0.1: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// quoteConf quotes s as a postgresql.conf string value.
func quoteConf(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

func seconds(d time.Duration) string {
	return strconv.Itoa(int(d / time.Second))
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return fmt.Errorf("append to %s: %w", path, err)
	}
	return f.Close()
}

func fileSize(path string) int64 {
	info, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return info.Size()
}

// readFrom returns the part of a file from offset on, for error messages.
func readFrom(path string, offset int64) string {
	data, err := os.ReadFile(path)
	if err != nil || offset > int64(len(data)) {
		return ""
	}
	return string(data[offset:])
}
