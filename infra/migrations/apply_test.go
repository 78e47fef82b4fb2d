package migrations

import (
	"context"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/votestream/votestream/internal/pgcluster/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

func newPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func TestApplyRunsEachFileOnce(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)

	first, err := Apply(ctx, pool)
	if err != nil {
		t.Fatalf("first Apply: %v", err)
	}
	want, err := Read(Files)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != len(want) || first[0] != "0001_init.sql" {
		t.Errorf("first Apply applied %v, want all %d files starting with 0001_init.sql", first, len(want))
	}

	second, err := Apply(ctx, pool)
	if err != nil {
		t.Fatalf("second Apply: %v", err)
	}
	if len(second) != 0 {
		t.Errorf("second Apply applied %v, want nothing", second)
	}

	var recorded int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM schema_migrations").Scan(&recorded); err != nil {
		t.Fatal(err)
	}
	if recorded != len(want) {
		t.Errorf("schema_migrations has %d rows, want %d", recorded, len(want))
	}
	var voters int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM voters").Scan(&voters); err != nil {
		t.Errorf("voters table after Apply: %v", err)
	}
}

func TestApplyFSOrdersByVersion(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	fsys := fstest.MapFS{
		"0010_second.sql": {Data: []byte("INSERT INTO t VALUES (2);")},
		"0002_first.sql":  {Data: []byte("CREATE TABLE t (v int); INSERT INTO t VALUES (1);")},
		"README.md":       {Data: []byte("not a migration")},
	}

	names, err := ApplyFS(ctx, pool, fsys)
	if err != nil {
		t.Fatalf("ApplyFS: %v", err)
	}
	if !slices.Equal(names, []string{"0002_first.sql", "0010_second.sql"}) {
		t.Errorf("ApplyFS applied %v, want [0002_first.sql 0010_second.sql]", names)
	}

	fsys["0011_third.sql"] = &fstest.MapFile{Data: []byte("INSERT INTO t VALUES (3);")}
	names, err = ApplyFS(ctx, pool, fsys)
	if err != nil {
		t.Fatalf("ApplyFS with a new file: %v", err)
	}
	if !slices.Equal(names, []string{"0011_third.sql"}) {
		t.Errorf("ApplyFS with a new file applied %v, want [0011_third.sql]", names)
	}
	var sum int
	if err := pool.QueryRow(ctx, "SELECT sum(v) FROM t").Scan(&sum); err != nil {
		t.Fatal(err)
	}
	if sum != 6 {
		t.Errorf("sum of rows = %d, want 6 (each file once)", sum)
	}
}

func TestApplyFSRejectsBadFiles(t *testing.T) {
	tests := []struct {
		name    string
		files   fstest.MapFS
		wantErr string
	}{
		{"no version", fstest.MapFS{"init.sql": {Data: []byte("SELECT 1")}}, `"init.sql" is misnamed`},
		{"short version", fstest.MapFS{"1_init.sql": {Data: []byte("SELECT 1")}}, `"1_init.sql" is misnamed`},
		{"upper case", fstest.MapFS{"0001_Init.sql": {Data: []byte("SELECT 1")}}, `"0001_Init.sql" is misnamed`},
		{"duplicate version", fstest.MapFS{
			"0001_a.sql": {Data: []byte("SELECT 1")},
			"0001_b.sql": {Data: []byte("SELECT 1")},
		}, "share version 1"},
	}
	pool := newPool(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			names, err := ApplyFS(context.Background(), pool, tt.files)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ApplyFS: err = %v, want one containing %q", err, tt.wantErr)
			}
			if len(names) != 0 {
				t.Errorf("ApplyFS applied %v despite the error", names)
			}
		})
	}
}

func TestApplyFSRollsBackFailedFile(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	fsys := fstest.MapFS{
		"0001_ok.sql":     {Data: []byte("CREATE TABLE kept (v int);")},
		"0002_broken.sql": {Data: []byte("CREATE TABLE broken (;")},
	}
	if _, err := ApplyFS(ctx, pool, fsys); err == nil || !strings.Contains(err.Error(), "0002_broken.sql") {
		t.Fatalf("ApplyFS: err = %v, want one naming 0002_broken.sql", err)
	}
	var exists bool
	if err := pool.QueryRow(ctx, "SELECT to_regclass('kept') IS NOT NULL").Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Error("table from 0001_ok.sql exists after 0002_broken.sql failed; want the whole run rolled back")
	}
}

func TestApplyConcurrentCallsApplyOnce(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)

	const callers = 4
	results := make([][]string, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { results[i], errs[i] = Apply(ctx, pool) })
	}
	wg.Wait()

	total := 0
	for i := range callers {
		if errs[i] != nil {
			t.Errorf("caller %d: %v", i, errs[i])
		}
		total += len(results[i])
	}
	want, _ := Read(Files)
	if total != len(want) {
		t.Errorf("callers applied %d files in total, want %d (each once)", total, len(want))
	}
}
