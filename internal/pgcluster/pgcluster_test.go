package pgcluster

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// newDir returns a cluster directory that the postgres user can enter when
// the test runs as root; t.TempDir's parents are private to root.
func newDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "votestream-pgcluster-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "pg")
}

func startCluster(t *testing.T, dir string) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := Start(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	return c
}

func TestClusterKeepsDataAcrossRestart(t *testing.T) {
	ctx := context.Background()
	dir := newDir(t)

	c := startCluster(t, dir)
	if !strings.HasPrefix(c.URL(), "postgres://postgres@127.0.0.1:") || !strings.HasSuffix(c.URL(), "/votestream?sslmode=disable") {
		t.Errorf("URL() = %q, want postgres://postgres@127.0.0.1:PORT/votestream?sslmode=disable", c.URL())
	}
	conn, err := pgx.Connect(ctx, c.URL())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('ünïcode, \"quoted\"')"); err != nil {
		t.Fatalf("write: %v", err)
	}
	conn.Close(ctx)
	if err := c.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}

	c2 := startCluster(t, dir)
	conn, err = pgx.Connect(ctx, c2.URL())
	if err != nil {
		t.Fatalf("connect after restart: %v", err)
	}
	defer conn.Close(ctx)
	var v string
	if err := conn.QueryRow(ctx, "SELECT v FROM kept").Scan(&v); err != nil {
		t.Fatalf("read after restart: %v", err)
	}
	if v != `ünïcode, "quoted"` {
		t.Errorf("value after restart = %q", v)
	}
}

func TestClusterListensOnLoopbackOnly(t *testing.T) {
	ctx := context.Background()
	c := startCluster(t, newDir(t))
	conn, err := pgx.Connect(ctx, c.URL())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	var listen string
	if err := conn.QueryRow(ctx, "SHOW listen_addresses").Scan(&listen); err != nil {
		t.Fatal(err)
	}
	if listen != "127.0.0.1" {
		t.Errorf("listen_addresses = %q, want 127.0.0.1", listen)
	}
}

func TestClusterUsesRequestedPort(t *testing.T) {
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := Start(ctx, Options{Dir: newDir(t), Port: port})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer c.Stop(context.Background())
	if c.Port() != port {
		t.Errorf("Port() = %d, want %d", c.Port(), port)
	}
	if !strings.Contains(c.URL(), ":"+strconv.Itoa(port)+"/") {
		t.Errorf("URL() = %q does not contain port %d", c.URL(), port)
	}
}

func TestStartRemovesStalePidFile(t *testing.T) {
	ctx := context.Background()
	dir := newDir(t)
	c := startCluster(t, dir)
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	// A pid that no live process has, as after a crash of the machine.
	pidFile := filepath.Join(dir, dataDirName, "postmaster.pid")
	stale := "999999\n" + filepath.Join(dir, dataDirName) + "\n1700000000\n5432\n\n127.0.0.1\n0 0\nready\n"
	if err := os.WriteFile(pidFile, []byte(stale), 0o600); err != nil {
		t.Fatal(err)
	}
	if c.user != nil {
		if err := os.Chown(pidFile, int(c.user.uid), int(c.user.gid)); err != nil {
			t.Fatal(err)
		}
	}

	c2 := startCluster(t, dir)
	conn, err := pgx.Connect(ctx, c2.URL())
	if err != nil {
		t.Fatalf("connect after stale pid file: %v", err)
	}
	conn.Close(ctx)
}

func TestStartStopsServerLeftRunning(t *testing.T) {
	ctx := context.Background()
	dir := newDir(t)
	startCluster(t, dir) // never stopped by the test body, like a killed demo

	c2 := startCluster(t, dir)
	conn, err := pgx.Connect(ctx, c2.URL())
	if err != nil {
		t.Fatalf("connect to restarted cluster: %v", err)
	}
	conn.Close(ctx)
}

func TestStartRejectsEmptyDir(t *testing.T) {
	_, err := Start(context.Background(), Options{})
	if err == nil || !strings.Contains(err.Error(), "Dir is missing") {
		t.Errorf("Start with no Dir: err = %v, want an error naming Dir", err)
	}
}

func TestMissingBinariesNamePackage(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := lookBinaries([]string{t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "apt-get install postgresql") {
		t.Errorf("lookBinaries with no binaries: err = %v, want the install hint", err)
	}
}

func TestBinariesFoundInDebianLayout(t *testing.T) {
	dirs := debianBinDirs()
	if len(dirs) == 0 {
		t.Fatal("no /usr/lib/postgresql/*/bin directory: install the server with `apt-get install postgresql`")
	}
	t.Setenv("PATH", t.TempDir())
	b, err := lookBinaries(dirs)
	if err != nil {
		t.Fatalf("lookBinaries(%v): %v", dirs, err)
	}
	if filepath.Dir(b.initdb) != dirs[0] {
		t.Errorf("initdb = %s, want it from %s", b.initdb, dirs[0])
	}
}
