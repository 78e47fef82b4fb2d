// Package loader writes an election into PostgreSQL: the election, its
// regions and candidates, and one registered voter per counted vote, which the
// transformation Lambda enriches ballots from.
package loader

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/votestream/votestream/internal/election"
)

// Stats describes what one Load did.
type Stats struct {
	Regions    int
	Candidates int

	// Voters is the number of voters of the election in the table after Load,
	// which equals the number of counted votes.
	Voters int64
	// VotersCopied is the number of voters this call copied: zero when the
	// election was already fully loaded.
	VotersCopied int64
	// PartialDeleted is the number of voters of an interrupted earlier load
	// that Load deleted before copying the election again.
	PartialDeleted int64
	// RebuiltPrimaryKey is true when the voters table was empty, so Load
	// dropped its primary key for the copy and built it afterwards.
	RebuiltPrimaryKey bool

	Elapsed time.Duration
}

// Load writes election e, held on day, into the tables of the schema in
// infra/migrations, which must already be applied. It is idempotent: the
// election, its regions and candidates are upserted, and the voters are
// copied only when the table does not already hold all of them. Voters of an
// earlier load that stopped part way are deleted and copied again.
//
// Everything happens in one transaction, so a load that is killed leaves
// the database as it was before. A transaction advisory lock on the election
// makes a concurrent Load of the same election wait for this one.
//
// progress, when not nil, is called from the copying goroutine with the
// number of voters copied so far and the total, every few tens of thousands
// of voters and once at the end.
func Load(ctx context.Context, pool *pgxpool.Pool, e *election.Election, day election.Day, progress func(done, total int64)) (Stats, error) {
	started := time.Now()
	stats := Stats{Regions: len(e.Regions), Candidates: len(e.Candidates)}
	if err := election.ValidateID(e.ID); err != nil {
		return stats, err
	}
	if day.Date.IsZero() {
		return stats, fmt.Errorf("load election %s: the election date is not set", e.ID)
	}

	tx, err := pool.Begin(ctx)
	if err != nil {
		return stats, fmt.Errorf("load election %s: begin: %w", e.ID, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))

	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('votestream.loader'), hashtext($1))", e.ID); err != nil {
		return stats, fmt.Errorf("load election %s: take load lock: %w", e.ID, err)
	}
	if err := upsertCatalog(ctx, tx, e, day); err != nil {
		return stats, fmt.Errorf("load election %s: %w", e.ID, err)
	}
	if err := loadVoters(ctx, tx, e, day, progress, &stats); err != nil {
		return stats, fmt.Errorf("load election %s: %w", e.ID, err)
	}

	if err := tx.Commit(ctx); err != nil {
		return stats, fmt.Errorf("load election %s: commit: %w", e.ID, err)
	}
	if stats.VotersCopied > 0 {
		// Fresh statistics let the planner use the primary key for the
		// transform's lookups straight away.
		if _, err := pool.Exec(ctx, "ANALYZE voters"); err != nil {
			return stats, fmt.Errorf("load election %s: analyze voters: %w", e.ID, err)
		}
	}
	stats.Elapsed = time.Since(started)
	return stats, nil
}

// upsertCatalog writes the election, regions and candidates rows, replacing
// the values of rows that an earlier load wrote. Rows that the files no
// longer contain are kept.
func upsertCatalog(ctx context.Context, tx pgx.Tx, e *election.Election, day election.Day) error {
	_, err := tx.Exec(ctx, `
		INSERT INTO elections (id, name, election_date) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, election_date = excluded.election_date`,
		e.ID, e.ID, day.Date)
	if err != nil {
		return fmt.Errorf("upsert election: %w", err)
	}

	codes := make([]string, len(e.Regions))
	names := make([]string, len(e.Regions))
	registered := make([]*int64, len(e.Regions))
	cast := make([]*int64, len(e.Regions))
	valid := make([]*int64, len(e.Regions))
	for i, r := range e.Regions {
		codes[i], names[i] = r.Code, r.Name
		registered[i], cast[i], valid[i] = nullIfUnknown(r.RegisteredVoters), nullIfUnknown(r.BallotsCast), nullIfUnknown(r.ValidVotes)
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO regions (election_id, code, name, registered_voters, ballots_cast, valid_votes)
		SELECT $1, * FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[])
		ON CONFLICT (election_id, code) DO UPDATE SET name = excluded.name,
			registered_voters = excluded.registered_voters, ballots_cast = excluded.ballots_cast,
			valid_votes = excluded.valid_votes`,
		e.ID, codes, names, registered, cast, valid)
	if err != nil {
		return fmt.Errorf("upsert %d regions: %w", len(e.Regions), err)
	}

	ids := make([]string, len(e.Candidates))
	candidates := make([]string, len(e.Candidates))
	parties := make([]string, len(e.Candidates))
	for i, c := range e.Candidates {
		ids[i], candidates[i], parties[i] = c.ID, c.Name, c.Party
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO candidates (election_id, id, name, party)
		SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[])
		ON CONFLICT (election_id, id) DO UPDATE SET name = excluded.name, party = excluded.party`,
		e.ID, ids, candidates, parties)
	if err != nil {
		return fmt.Errorf("upsert %d candidates: %w", len(e.Candidates), err)
	}
	return nil
}

// nullIfUnknown maps the -1 that election.Region uses for a blank figure to NULL.
func nullIfUnknown(n int64) *int64 {
	if n < 0 {
		return nil
	}
	return &n
}

// loadVoters copies the voters of e unless the table already holds all of them.
func loadVoters(ctx context.Context, tx pgx.Tx, e *election.Election, day election.Day, progress func(done, total int64), stats *Stats) error {
	expansion := e.Expand()
	total := expansion.Total()

	var existing int64
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM voters WHERE election_id = $1", e.ID).Scan(&existing); err != nil {
		return fmt.Errorf("count loaded voters: %w", err)
	}
	if existing == total {
		stats.Voters = total
		return nil
	}
	if existing > 0 {
		tag, err := tx.Exec(ctx, "DELETE FROM voters WHERE election_id = $1", e.ID)
		if err != nil {
			return fmt.Errorf("delete %d voters of an incomplete load: %w", existing, err)
		}
		stats.PartialDeleted = tag.RowsAffected()
	}

	rebuild, err := dropPrimaryKeyIfEmpty(ctx, tx)
	if err != nil {
		return err
	}
	stats.RebuiltPrimaryKey = rebuild

	source := newVoterSource(ctx, e.ID, expansion, day.Date, progress)
	copied, err := tx.CopyFrom(ctx, pgx.Identifier{"voters"}, voterColumns, source)
	if err != nil {
		return fmt.Errorf("copy voters (%d of %d sent): %w", source.sent, total, err)
	}
	if copied != total {
		return fmt.Errorf("copy voters: %d copied, want %d", copied, total)
	}
	if progress != nil {
		progress(copied, total)
	}

	if rebuild {
		if _, err := tx.Exec(ctx, "ALTER TABLE voters ADD CONSTRAINT "+primaryKeyName+" PRIMARY KEY (election_id, id)"); err != nil {
			return fmt.Errorf("rebuild the voters primary key after the copy: %w", err)
		}
	}
	stats.VotersCopied = copied
	stats.Voters = copied
	return nil
}

// primaryKeyName is the name PostgreSQL gives the primary key of voters in
// 0001_init.sql.
const primaryKeyName = "voters_pkey"

// dropPrimaryKeyIfEmpty drops the voters primary key when the table has no
// rows, so that COPY appends without index maintenance and the key is then
// built in one sort. On a non-empty table, rebuilding the key would cost as
// much as the rows already there, so the key stays and COPY maintains it.
// The ALTER TABLE holds an exclusive lock on voters until the transaction ends.
//
// Measured with BenchmarkLoadElection on uk-ge-2024.csv (28.8 million voters,
// 2 vCPUs, PostgreSQL 15 from pgcluster): 180 s with the key rebuilt, 366 s
// with the key kept during the copy.
func dropPrimaryKeyIfEmpty(ctx context.Context, tx pgx.Tx) (bool, error) {
	var nonEmpty bool
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM voters)").Scan(&nonEmpty); err != nil {
		return false, fmt.Errorf("check whether voters is empty: %w", err)
	}
	if nonEmpty {
		return false, nil
	}
	// Index builds sort in memory up to this limit; the default of 64MB
	// spills a national register to disk several times.
	if _, err := tx.Exec(ctx, "SET LOCAL maintenance_work_mem = '1GB'"); err != nil {
		return false, fmt.Errorf("raise maintenance_work_mem: %w", err)
	}
	_, err := tx.Exec(ctx, "ALTER TABLE voters DROP CONSTRAINT "+primaryKeyName)
	if err != nil {
		return false, fmt.Errorf("drop the voters primary key for the copy: %w", err)
	}
	return true, nil
}
