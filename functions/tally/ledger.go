package tally

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/votestream/votestream/glue"
)

// maxTxAttempts bounds how often Apply runs a batch whose transaction failed
// with a deadlock or serialization failure. Concurrent batches that update
// the same tally rows can deadlock; PostgreSQL aborts one of them, and that
// one runs again.
const maxTxAttempts = 5

// Ledger applies batches of votes_topic records to the votes ledger, the
// rejected_votes table and the tally tables of infra/migrations.
type Ledger struct {
	pool   *pgxpool.Pool
	logger *slog.Logger
}

// NewLedger returns a Ledger on pool. The schema must be migrated. A nil
// logger discards logs.
func NewLedger(pool *pgxpool.Pool, logger *slog.Logger) *Ledger {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Ledger{pool: pool, logger: logger}
}

// RegionKey names one snapshot of aggregated_votes_topic. RegionCode is
// empty for rejects that belong to no region: unregistered voters and
// malformed values.
type RegionKey struct {
	ElectionID string
	RegionCode string
}

// BatchResult counts what Apply did with each record of a batch.
type BatchResult struct {
	Accepted int
	// Rejected counts newly rejected ballots by reason.
	Rejected map[string]int
	// Redelivered counts copies of known ballots at new offsets.
	Redelivered int
	// Replayed counts records that the ledger already holds at the same
	// offset: a batch applied again after a crash or a failed commit.
	Replayed int
	// Touched lists the regions whose snapshots should be published: every
	// region that a record of the batch belongs to, also when nothing
	// changed, so that a replayed batch republishes what a crash may have lost.
	Touched []RegionKey
}

// Apply applies msgs in one transaction, in topic, partition and offset
// order, and sorts msgs in place. Applying the same records again changes
// nothing. A database error returns an error and leaves the ledger as it
// was; the caller must not commit the batch's offsets then.
func (l *Ledger) Apply(ctx context.Context, msgs []Message) (BatchResult, error) {
	sortMessages(msgs)
	batch := make([]decoded, len(msgs))
	for i, m := range msgs {
		batch[i] = decode(m)
	}

	var lastErr error
	for attempt := 1; attempt <= maxTxAttempts; attempt++ {
		result, err := l.applyOnce(ctx, batch)
		if err == nil {
			return result, nil
		}
		lastErr = err
		if !retryable(err) || ctx.Err() != nil {
			break
		}
		l.logger.Warn("ledger transaction aborted, retrying", "attempt", attempt, "records", len(msgs), "error", err)
	}
	return BatchResult{}, fmt.Errorf("apply batch of %d records: %w", len(msgs), lastErr)
}

// retryable reports a deadlock (40P01) or serialization failure (40001).
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001")
}

func (l *Ledger) applyOnce(ctx context.Context, batch []decoded) (BatchResult, error) {
	tx, err := l.pool.Begin(ctx)
	if err != nil {
		return BatchResult{}, fmt.Errorf("begin ledger transaction: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))

	state, err := loadState(ctx, tx, batch)
	if err != nil {
		return BatchResult{}, err
	}
	plan := classify(batch, state)

	if err := plan.insertAccepted(ctx, tx); err != nil {
		return BatchResult{}, err
	}
	if err := plan.insertRejected(ctx, tx); err != nil {
		return BatchResult{}, err
	}
	if err := plan.insertRedelivered(ctx, tx); err != nil {
		return BatchResult{}, err
	}
	if err := plan.updateTallies(ctx, tx); err != nil {
		return BatchResult{}, err
	}

	if err := tx.Commit(ctx); err != nil {
		return BatchResult{}, fmt.Errorf("commit ledger transaction: %w", err)
	}
	return plan.result(), nil
}

// voterInfo contains the facts the ledger needs about a registered voter.
type voterInfo struct {
	region    string
	birthYear int
}

type coordinates struct {
	topic     string
	partition int32
	offset    int64
}

type voterRef struct{ election, voter string }
type candidateRef struct{ election, candidate string }

// ledgerState contains the database's facts about the records of a batch,
// read at the start of the transaction.
type ledgerState struct {
	// known maps the vote ids of the batch that the ledger holds, accepted
	// or rejected, to where they were read from. The topic is not stored
	// for accepted ballots, so it is empty there.
	known      map[string]coordinates
	voters     map[voterRef]voterInfo
	voted      map[voterRef]bool
	candidates map[candidateRef]bool
	// candidateIDs holds every candidate id of the batch that some
	// election has, to tell a candidate of another election from an unknown one.
	candidateIDs  map[string]bool
	electionYears map[string]int
}

func loadState(ctx context.Context, tx pgx.Tx, batch []decoded) (*ledgerState, error) {
	var voteIDs, voterElections, voterIDs, candidateIDs, electionIDs []string
	for _, d := range batch {
		if d.malformed != nil {
			continue
		}
		voteIDs = append(voteIDs, d.vote.VoteID)
		voterElections = append(voterElections, d.vote.ElectionID)
		voterIDs = append(voterIDs, d.vote.VoterID)
		candidateIDs = append(candidateIDs, d.vote.CandidateID)
		electionIDs = append(electionIDs, d.vote.ElectionID)
	}
	s := &ledgerState{
		known:         map[string]coordinates{},
		voters:        map[voterRef]voterInfo{},
		voted:         map[voterRef]bool{},
		candidates:    map[candidateRef]bool{},
		candidateIDs:  map[string]bool{},
		electionYears: map[string]int{},
	}
	if len(voteIDs) == 0 {
		return s, nil
	}

	rows, err := tx.Query(ctx, `SELECT vote_id::text, '' AS topic, kafka_partition, kafka_offset FROM votes WHERE vote_id = ANY($1::uuid[])
UNION ALL
SELECT vote_id::text, kafka_topic, kafka_partition, kafka_offset FROM rejected_votes WHERE vote_id = ANY($1::uuid[])`, voteIDs)
	if err != nil {
		return nil, fmt.Errorf("look up %d vote ids: %w", len(voteIDs), err)
	}
	var id string
	var c coordinates
	if _, err := pgx.ForEachRow(rows, []any{&id, &c.topic, &c.partition, &c.offset}, func() error {
		s.known[id] = c
		return nil
	}); err != nil {
		return nil, fmt.Errorf("look up %d vote ids: %w", len(voteIDs), err)
	}

	// The LATERAL subquery with LIMIT 1 keeps each key a primary-key probe.
	// A plain join lets the planner hash the whole register once a batch
	// requests about 1% of it, which is a full scan per batch of a national
	// register.
	rows, err = tx.Query(ctx, `SELECT v.election_id, v.id, v.region_code, v.birth_year, EXISTS (
    SELECT 1 FROM votes b WHERE b.election_id = v.election_id AND b.voter_id = v.id)
FROM unnest($1::text[], $2::text[]) AS k(election_id, id)
JOIN LATERAL (
  SELECT election_id, id, region_code, birth_year FROM voters
  WHERE voters.election_id = k.election_id AND voters.id = k.id
  LIMIT 1
) v ON true`, voterElections, voterIDs)
	if err != nil {
		return nil, fmt.Errorf("look up %d voters: %w", len(voterIDs), err)
	}
	var ref voterRef
	var info voterInfo
	var voted bool
	if _, err := pgx.ForEachRow(rows, []any{&ref.election, &ref.voter, &info.region, &info.birthYear, &voted}, func() error {
		s.voters[ref] = info
		s.voted[ref] = voted
		return nil
	}); err != nil {
		return nil, fmt.Errorf("look up %d voters: %w", len(voterIDs), err)
	}

	rows, err = tx.Query(ctx, `SELECT election_id, id FROM candidates WHERE id = ANY($1)`, candidateIDs)
	if err != nil {
		return nil, fmt.Errorf("look up candidates: %w", err)
	}
	var cand candidateRef
	if _, err := pgx.ForEachRow(rows, []any{&cand.election, &cand.candidate}, func() error {
		s.candidates[cand] = true
		s.candidateIDs[cand.candidate] = true
		return nil
	}); err != nil {
		return nil, fmt.Errorf("look up candidates: %w", err)
	}

	rows, err = tx.Query(ctx, `SELECT id, extract(year FROM election_date)::int FROM elections WHERE id = ANY($1)`, electionIDs)
	if err != nil {
		return nil, fmt.Errorf("look up elections: %w", err)
	}
	var election string
	var year int
	if _, err := pgx.ForEachRow(rows, []any{&election, &year}, func() error {
		s.electionYears[election] = year
		return nil
	}); err != nil {
		return nil, fmt.Errorf("look up elections: %w", err)
	}
	return s, nil
}

// acceptedBallot is a row for votes with what the tallies need.
type acceptedBallot struct {
	d       decoded
	region  string
	ageBand string
}

// rejectedBallot is a row for rejected_votes.
type rejectedBallot struct {
	d      decoded
	region string
	reason string
	detail string
}

// batchPlan is the outcome of each record of a batch, decided in Go from
// the ledger state, then written with one statement per table.
type batchPlan struct {
	accepted    []acceptedBallot
	rejected    []rejectedBallot
	redelivered []decoded
	replayed    int
	touched     map[RegionKey]bool

	// Filled by the inserts: what the database actually took. A row that a
	// concurrent transaction inserted first is not among them.
	insertedAccepted []acceptedBallot
	insertedRejected []rejectedBallot
	raced            int
}

// classify applies the ledger rule to each record in order. Checks run in
// the order of the transformation Lambda (voter, then candidate) and only
// then the duplicate check, so a ballot for an unknown candidate never uses
// up a voter's ballot, in the ledger as in the lake's valid_votes view.
func classify(batch []decoded, s *ledgerState) *batchPlan {
	p := &batchPlan{touched: map[RegionKey]bool{}}
	seen := map[string]coordinates{}

	for _, d := range batch {
		here := coordinates{d.msg.Topic, d.msg.Partition, d.msg.Offset}
		if d.malformed != nil {
			p.rejected = append(p.rejected, rejectedBallot{d: d, reason: ReasonMalformed, detail: d.malformed.Error()})
			p.touched[RegionKey{d.vote.ElectionID, ""}] = true
			continue
		}

		ref := voterRef{d.vote.ElectionID, d.vote.VoterID}
		voter, registered := s.voters[ref]
		p.touched[RegionKey{d.vote.ElectionID, voter.region}] = true

		if at, ok := s.known[d.vote.VoteID]; ok {
			if at.partition == here.partition && at.offset == here.offset && (at.topic == "" || at.topic == here.topic) {
				p.replayed++
			} else {
				p.redelivered = append(p.redelivered, d)
			}
			continue
		}
		if _, ok := seen[d.vote.VoteID]; ok {
			p.redelivered = append(p.redelivered, d)
			continue
		}
		seen[d.vote.VoteID] = here

		switch {
		case !registered:
			p.rejected = append(p.rejected, rejectedBallot{d: d, reason: ReasonUnknownVoter})
		case !s.candidates[candidateRef{d.vote.ElectionID, d.vote.CandidateID}]:
			reason := ReasonUnknownCandidate
			if s.candidateIDs[d.vote.CandidateID] {
				reason = ReasonCandidateOtherElection
			}
			p.rejected = append(p.rejected, rejectedBallot{d: d, region: voter.region, reason: reason})
		case s.voted[ref]:
			p.rejected = append(p.rejected, rejectedBallot{d: d, region: voter.region, reason: ReasonDuplicateVoter})
		default:
			s.voted[ref] = true
			band := glue.AgeBand(glue.AgeOnElectionDay(voter.birthYear, s.electionYears[d.vote.ElectionID]))
			p.accepted = append(p.accepted, acceptedBallot{d: d, region: voter.region, ageBand: band})
		}
	}
	return p
}

// insertAccepted inserts the accepted ballots. It first tries a plain INSERT
// in a savepoint: without the speculative insertion of ON CONFLICT, it took
// 63% of the time on the votes table of migration 0003 (400,000 rows in
// batches of 5,000, PostgreSQL 15, 2 vCPUs). Ballots of a voter share a
// partition, so the plain INSERT fails with a unique violation only when
// another consumer applies the same partition at once. That happens when a
// consumer lost the partition in a rebalance and has not noticed yet.
//
// After a unique violation, the savepoint is rolled back and INSERT ... ON
// CONFLICT DO NOTHING skips the ballots that the concurrent transaction
// inserted after this one read the ledger state. Such a ballot is then a
// redelivery when its vote id is in the ledger, and otherwise a later
// ballot of its voter.
func (p *batchPlan) insertAccepted(ctx context.Context, tx pgx.Tx) error {
	if len(p.accepted) == 0 {
		return nil
	}
	n := len(p.accepted)
	voteIDs, elections, voters, candidates, channels := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	castAts, partitions, offsets := make([]time.Time, n), make([]int32, n), make([]int64, n)
	for i, a := range p.accepted {
		v := a.d.vote
		voteIDs[i], elections[i], voters[i], candidates[i], channels[i] = v.VoteID, v.ElectionID, v.VoterID, v.CandidateID, v.Channel
		castAts[i], partitions[i], offsets[i] = a.d.castAt, a.d.msg.Partition, a.d.msg.Offset
	}
	args := []any{voteIDs, elections, voters, candidates, castAts, channels, partitions, offsets}
	const insert = `INSERT INTO votes (vote_id, election_id, voter_id, candidate_id, "timestamp", channel, kafka_partition, kafka_offset)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::int[], $8::bigint[])`

	raced, err := insertInSavepoint(ctx, tx, insert, args)
	if err != nil {
		return fmt.Errorf("insert %d accepted ballots: %w", n, err)
	}
	if !raced {
		p.insertedAccepted = p.accepted
		return nil
	}

	rows, err := tx.Query(ctx, insert+`
ON CONFLICT DO NOTHING
RETURNING vote_id::text`, args...)
	if err != nil {
		return fmt.Errorf("insert %d accepted ballots: %w", n, err)
	}
	inserted, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("insert %d accepted ballots: %w", n, err)
	}
	done := make(map[string]bool, len(inserted))
	for _, id := range inserted {
		done[id] = true
	}

	var lost []string
	for _, a := range p.accepted {
		if done[a.d.vote.VoteID] {
			p.insertedAccepted = append(p.insertedAccepted, a)
		} else {
			lost = append(lost, a.d.vote.VoteID)
		}
	}
	if len(lost) == 0 {
		return nil
	}

	// A concurrent transaction won the race for these ballots or their voters.
	p.raced = len(lost)
	rows, err = tx.Query(ctx, `SELECT vote_id::text FROM votes WHERE vote_id = ANY($1::uuid[])`, lost)
	if err != nil {
		return fmt.Errorf("look up %d ballots a concurrent batch inserted: %w", len(lost), err)
	}
	present, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("look up %d ballots a concurrent batch inserted: %w", len(lost), err)
	}
	inLedger := make(map[string]bool, len(present))
	for _, id := range present {
		inLedger[id] = true
	}
	for _, a := range p.accepted {
		switch {
		case done[a.d.vote.VoteID]:
		case inLedger[a.d.vote.VoteID]:
			p.replayed++
		default:
			p.rejected = append(p.rejected, rejectedBallot{d: a.d, region: a.region, reason: ReasonDuplicateVoter})
		}
	}
	return nil
}

// insertInSavepoint runs sql in a savepoint of tx. It returns true, with the
// savepoint rolled back and tx usable, when sql failed with a unique
// violation (SQLSTATE 23505).
func insertInSavepoint(ctx context.Context, tx pgx.Tx, sql string, args []any) (bool, error) {
	savepoint, err := tx.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("create savepoint: %w", err)
	}
	if _, err := savepoint.Exec(ctx, sql, args...); err != nil {
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
			return false, err
		}
		if err := savepoint.Rollback(ctx); err != nil {
			return false, fmt.Errorf("roll back to savepoint after %w: %w", pgErr, err)
		}
		return true, nil
	}
	if err := savepoint.Commit(ctx); err != nil {
		return false, fmt.Errorf("release savepoint: %w", err)
	}
	return false, nil
}

// insertRejected inserts the rejected ballots. A row whose vote id or Kafka
// coordinates are already stored is skipped and not counted again.
func (p *batchPlan) insertRejected(ctx context.Context, tx pgx.Tx) error {
	if len(p.rejected) == 0 {
		return nil
	}
	n := len(p.rejected)
	voteIDs := make([]*string, n)
	elections, voters, candidates, regions, reasons, details, topics := make([]string, n), make([]*string, n), make([]*string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	castAts := make([]*time.Time, n)
	partitions, offsets := make([]int32, n), make([]int64, n)
	for i, r := range p.rejected {
		v := r.d.vote
		elections[i], regions[i], reasons[i], details[i] = v.ElectionID, r.region, r.reason, r.detail
		topics[i], partitions[i], offsets[i] = r.d.msg.Topic, r.d.msg.Partition, r.d.msg.Offset
		if r.d.malformed == nil {
			voteIDs[i], voters[i], candidates[i], castAts[i] = &v.VoteID, &v.VoterID, &v.CandidateID, &r.d.castAt
		}
	}
	rows, err := tx.Query(ctx, `INSERT INTO rejected_votes (vote_id, election_id, voter_id, candidate_id, region_code, cast_at, reason, detail, kafka_topic, kafka_partition, kafka_offset)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::text[], $8::text[], $9::text[], $10::int[], $11::bigint[])
ON CONFLICT DO NOTHING
RETURNING kafka_topic, kafka_partition, kafka_offset`, voteIDs, elections, voters, candidates, regions, castAts, reasons, details, topics, partitions, offsets)
	if err != nil {
		return fmt.Errorf("insert %d rejected ballots: %w", n, err)
	}
	done := map[coordinates]bool{}
	var c coordinates
	if _, err := pgx.ForEachRow(rows, []any{&c.topic, &c.partition, &c.offset}, func() error {
		done[c] = true
		return nil
	}); err != nil {
		return fmt.Errorf("insert %d rejected ballots: %w", n, err)
	}
	for _, r := range p.rejected {
		if done[coordinates{r.d.msg.Topic, r.d.msg.Partition, r.d.msg.Offset}] {
			p.insertedRejected = append(p.insertedRejected, r)
		} else {
			p.replayed++
		}
	}
	return nil
}

func (p *batchPlan) insertRedelivered(ctx context.Context, tx pgx.Tx) error {
	if len(p.redelivered) == 0 {
		return nil
	}
	n := len(p.redelivered)
	topics, voteIDs, elections := make([]string, n), make([]string, n), make([]string, n)
	partitions, offsets := make([]int32, n), make([]int64, n)
	for i, d := range p.redelivered {
		topics[i], partitions[i], offsets[i] = d.msg.Topic, d.msg.Partition, d.msg.Offset
		voteIDs[i], elections[i] = d.vote.VoteID, d.vote.ElectionID
	}
	_, err := tx.Exec(ctx, `INSERT INTO redelivered_votes (kafka_topic, kafka_partition, kafka_offset, vote_id, election_id)
SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[], $4::uuid[], $5::text[])
ON CONFLICT DO NOTHING`, topics, partitions, offsets, voteIDs, elections)
	if err != nil {
		return fmt.Errorf("record %d redelivered ballots: %w", n, err)
	}
	return nil
}

func (p *batchPlan) result() BatchResult {
	r := BatchResult{
		Accepted:    len(p.insertedAccepted),
		Rejected:    map[string]int{},
		Redelivered: len(p.redelivered),
		Replayed:    p.replayed,
	}
	for _, rej := range p.insertedRejected {
		r.Rejected[rej.reason]++
	}
	for k := range p.touched {
		r.Touched = append(r.Touched, k)
	}
	sortKeys(r.Touched)
	return r
}
