package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/votestream/votestream/glue"
	"github.com/votestream/votestream/internal/pgcluster/pgtest"
)

func TestLoadRegistersBundledElection(t *testing.T) {
	url := pgtest.URL(t)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"migrate", "--database-url", url}, &stdout, &stderr); code != exitOK {
		t.Fatalf("migrate exit code = %d, stderr: %s", code, stderr.String())
	}

	lakeDir := t.TempDir()
	for pass := range 2 {
		stdout.Reset()
		stderr.Reset()
		if code := run([]string{"load", "--election", "us-vt-pres-2024", "--database-url", url, "--lake-dir", lakeDir}, &stdout, &stderr); code != exitOK {
			t.Fatalf("load pass %d exit code = %d, stderr: %s", pass, code, stderr.String())
		}
		// Vermont 2024 has 369,422 counted votes, so as many voters, in 14 counties.
		if !strings.Contains(stdout.String(), "14 regions") || !strings.Contains(stdout.String(), "369422 voters") {
			t.Errorf("load pass %d output = %q, want 14 regions and 369422 voters", pass, stdout.String())
		}
		wantCopied := "(369422 copied now)"
		if pass == 1 {
			wantCopied = "(0 copied now)"
		}
		if !strings.Contains(stdout.String(), wantCopied) {
			t.Errorf("load pass %d output = %q, want %s", pass, stdout.String(), wantCopied)
		}
	}

	// The regions table lands where the lake bucket keeps it.
	path := filepath.Join(lakeDir, filepath.FromSlash(glue.RegionsObjectKey("us-vt-pres-2024")))
	info, err := os.Stat(path)
	if err != nil || info.Size() == 0 {
		t.Fatalf("regions table %s: %v, want a non-empty Parquet file", path, err)
	}
	if !strings.Contains(stdout.String(), path) {
		t.Errorf("load output = %q, want it to name %s", stdout.String(), path)
	}
}

func TestLoadUsageErrors(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	t.Setenv("VOTESTREAM_ELECTION", "")
	cases := map[string][]string{
		"no election":      {"load", "--database-url", "postgres://127.0.0.1:1/x"},
		"no database":      {"load", "--election", "us-vt-pres-2024"},
		"unknown election": {"load", "--election", "no-such-election.csv", "--database-url", "postgres://127.0.0.1:1/x"},
	}
	for name, args := range cases {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != exitUsage {
			t.Errorf("%s: exit code = %d, want %d; stderr: %s", name, code, exitUsage, stderr.String())
		}
	}
}

func TestLoadWithoutSchemaNamesMigrate(t *testing.T) {
	url := pgtest.URL(t)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"load", "--election", "us-vt-pres-2024", "--database-url", url}, &stdout, &stderr); code != exitUsage {
		t.Fatalf("exit code = %d, want %d; stderr: %s", code, exitUsage, stderr.String())
	}
	if !strings.Contains(stderr.String(), "run votestream migrate") {
		t.Errorf("stderr = %q, want the hint to run votestream migrate", stderr.String())
	}
}

func TestSimulateUnreachableBrokerFails(t *testing.T) {
	// A port that was free a moment ago refuses connections.
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := listener.Addr().String()
	listener.Close()

	var stdout, stderr bytes.Buffer
	code := run([]string{"simulate", "--election", "us-vt-pres-2024", "--brokers", addr}, &stdout, &stderr)
	if code != exitUsage {
		t.Fatalf("exit code = %d, want %d; stderr: %s", code, exitUsage, stderr.String())
	}
	if !strings.Contains(stderr.String(), "Kafka at "+addr+" did not respond") {
		t.Errorf("stderr = %q, want it to name the unreachable broker %s", stderr.String(), addr)
	}
}
