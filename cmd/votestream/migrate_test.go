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
