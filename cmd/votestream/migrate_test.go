package main

import (
	"bytes"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/votestream/votestream/infra/migrations"
	"github.com/votestream/votestream/internal/pgcluster/pgtest"
)

func TestMain(m *testing.M) {
	os.Exit(pgtest.Run(m))
}

func TestMigrateAppliesOnce(t *testing.T) {
	url := pgtest.URL(t)

	var first, second, stderr bytes.Buffer
	if code := run([]string{"migrate", "--database-url", url}, &first, &stderr); code != exitOK {
		t.Fatalf("first migrate exit code = %d, stderr: %s", code, stderr.String())
	}
	files, err := fs.Glob(migrations.Files, "*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no migration files: %v", err)
	}
	if got := strings.Count(first.String(), "applied "); got != len(files) {
		t.Errorf("first migrate applied %d migrations, want %d:\n%s", got, len(files), first.String())
	}
	if code := run([]string{"migrate", "--database-url", url}, &second, &stderr); code != exitOK {
		t.Fatalf("second migrate exit code = %d, stderr: %s", code, stderr.String())
	}
	if !strings.HasPrefix(second.String(), "0 migrations applied") {
		t.Errorf("second migrate output = %q, want 0 migrations applied", second.String())
	}
}

func TestMigrateWithoutURLIsUsageError(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"migrate"}, &stdout, &stderr); code != exitUsage {
		t.Errorf("exit code = %d, want %d; stderr: %s", code, exitUsage, stderr.String())
	}
}

func TestLoadRegistersBundledElection(t *testing.T) {
	url := pgtest.URL(t)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"migrate", "--database-url", url}, &stdout, &stderr); code != exitOK {
		t.Fatalf("migrate exit code = %d, stderr: %s", code, stderr.String())
	}

	for pass := range 2 {
		stdout.Reset()
		stderr.Reset()
		if code := run([]string{"load", "--election", "us-vt-pres-2024", "--database-url", url}, &stdout, &stderr); code != exitOK {
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
