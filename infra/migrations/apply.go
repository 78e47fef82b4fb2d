package migrations

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// advisoryLockKey serialises Apply across processes that share a database.
// It is an arbitrary constant that no other votestream lock uses.
const advisoryLockKey int64 = 0x766f7465_6d696772

// fileName matches NNNN_description.sql: a version of four or more digits
// and a description in lower-case letters, digits and underscores.
var fileName = regexp.MustCompile(`^([0-9]{4,})_([a-z0-9_]+)\.sql$`)

// Migration is one versioned schema change.
type Migration struct {
	Version int
	// Name is the file name, such as 0001_init.sql.
	Name string
	SQL  string
}

// Apply applies the migrations in Files that the database has not recorded
// yet, and returns the names of those it applied, in order.
func Apply(ctx context.Context, pool *pgxpool.Pool) ([]string, error) {
	return ApplyFS(ctx, pool, Files)
}

// ApplyFS applies the NNNN_description.sql files at the root of fsys in
// version order, each once. Applied versions are recorded in the table
// schema_migrations(version, name, applied_at).
//
// All pending files run in one transaction that first takes a transaction
// advisory lock, so two processes that start at once apply each file once
// and a failing file leaves the schema as it was. A statement that cannot
// run in a transaction, such as CREATE INDEX CONCURRENTLY, cannot be a migration.
func ApplyFS(ctx context.Context, pool *pgxpool.Pool, fsys fs.FS) ([]string, error) {
	migrations, err := Read(fsys)
	if err != nil {
		return nil, err
	}

	tx, err := pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin migration transaction: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))

	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", advisoryLockKey); err != nil {
		return nil, fmt.Errorf("take migration lock: %w", err)
	}
	// Created under the lock, because two concurrent CREATE TABLE IF NOT
	// EXISTS statements can both pass the check and one then fails.
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}

	applied, err := appliedVersions(ctx, tx)
	if err != nil {
		return nil, err
	}

	var names []string
	for _, m := range migrations {
		if applied[m.Version] {
			continue
		}
		// The simple protocol runs a file of several statements in one call.
		if _, err := tx.Exec(ctx, m.SQL, pgx.QueryExecModeSimpleProtocol); err != nil {
			return nil, fmt.Errorf("apply migration %s: %w", m.Name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.Version, m.Name); err != nil {
			return nil, fmt.Errorf("record migration %s: %w", m.Name, err)
		}
		names = append(names, m.Name)
	}

	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("commit migrations %v: %w", names, err)
	}
	return names, nil
}

// Read returns the migrations at the root of fsys in version order. Files
// that do not end in .sql are ignored. A .sql file whose name is not
// NNNN_description.sql, or a version used twice, is an error.
func Read(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}

	var migrations []Migration
	byVersion := make(map[int]string)
	for _, entry := range entries {
		if entry.IsDir() || path.Ext(entry.Name()) != ".sql" {
			continue
		}
		match := fileName.FindStringSubmatch(entry.Name())
		if match == nil {
			return nil, fmt.Errorf("migration file %q is misnamed: name it NNNN_description.sql, with a version of four digits and a description in lower-case letters, digits and underscores", entry.Name())
		}
		version, err := strconv.Atoi(match[1])
		if err != nil {
			return nil, fmt.Errorf("migration file %q: version %s is out of range", entry.Name(), match[1])
		}
		if other, dup := byVersion[version]; dup {
			return nil, fmt.Errorf("migration files %q and %q share version %d: renumber one of them", other, entry.Name(), version)
		}
		byVersion[version] = entry.Name()

		sql, err := fs.ReadFile(fsys, entry.Name())
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", entry.Name(), err)
		}
		migrations = append(migrations, Migration{Version: version, Name: entry.Name(), SQL: string(sql)})
	}

	sort.Slice(migrations, func(i, j int) bool { return migrations[i].Version < migrations[j].Version })
	return migrations, nil
}

func appliedVersions(ctx context.Context, tx pgx.Tx) (map[int]bool, error) {
	rows, err := tx.Query(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	applied := make(map[int]bool, len(versions))
	for _, v := range versions {
		applied[int(v)] = true
	}
	return applied, nil
}
