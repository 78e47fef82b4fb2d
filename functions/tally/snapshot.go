package tally

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/votestream/votestream/internal/vote"
)

// Snapshots reads the current tallies of the given regions. A region with
// no ballots yet has a snapshot with zero counts. RegisteredVoters is -1
// where the regions table has no figure, and for the region-less key.
func Snapshots(ctx context.Context, pool *pgxpool.Pool, keys []RegionKey) ([]vote.TallySnapshot, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	byKey := make(map[RegionKey]*vote.TallySnapshot, len(keys))
	elections, regionCodes := make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		elections[i], regionCodes[i] = k.ElectionID, k.RegionCode
		byKey[k] = &vote.TallySnapshot{
			ElectionID:       k.ElectionID,
			RegionCode:       k.RegionCode,
			RegisteredVoters: -1,
			Candidates:       []vote.CandidateCount{},
			Rejected:         map[string]int64{},
			AgeBands:         map[string]int64{},
			Timeline:         map[string]int64{},
		}
	}

	// Every query joins its table with the requested keys. The last column
	// of each is the count; the columns before it differ per table.
	var updated time.Time
	queries := []struct {
		what string
		sql  string
		scan func(s *vote.TallySnapshot, rows pgx.Rows) error
	}{
		{"regions", `SELECT r.election_id, r.code, r.name, coalesce(r.registered_voters, -1)
FROM regions r JOIN unnest($1::text[], $2::text[]) AS k(e, r) ON r.election_id = k.e AND r.code = k.r`,
			func(s *vote.TallySnapshot, rows pgx.Rows) error {
				return rows.Scan(&s.ElectionID, &s.RegionCode, &s.RegionName, &s.RegisteredVoters)
			}},
		{"region tallies", `SELECT t.election_id, t.region_code, t.accepted, t.updated_at
FROM tally_regions t JOIN unnest($1::text[], $2::text[]) AS k(e, r) ON t.election_id = k.e AND t.region_code = k.r`,
			func(s *vote.TallySnapshot, rows pgx.Rows) error {
				var e, r string
				if err := rows.Scan(&e, &r, &s.Accepted, &updated); err != nil {
					return err
				}
				s.UpdatedAt = laterOf(s.UpdatedAt, updated)
				return nil
			}},
		{"candidate tallies", `SELECT t.election_id, t.region_code, t.candidate_id, coalesce(c.name, ''), coalesce(c.party, ''), t.votes
FROM tally_candidates t JOIN unnest($1::text[], $2::text[]) AS k(e, r) ON t.election_id = k.e AND t.region_code = k.r
LEFT JOIN candidates c ON c.election_id = t.election_id AND c.id = t.candidate_id
ORDER BY t.votes DESC, t.candidate_id`,
			func(s *vote.TallySnapshot, rows pgx.Rows) error {
				var e, r string
				var c vote.CandidateCount
				if err := rows.Scan(&e, &r, &c.CandidateID, &c.Name, &c.Party, &c.Votes); err != nil {
					return err
				}
				s.Candidates = append(s.Candidates, c)
				return nil
			}},
		{"reject tallies", `SELECT t.election_id, t.region_code, t.reason, t.ballots, t.updated_at
FROM tally_rejected t JOIN unnest($1::text[], $2::text[]) AS k(e, r) ON t.election_id = k.e AND t.region_code = k.r`,
			func(s *vote.TallySnapshot, rows pgx.Rows) error {
				var e, r, reason string
				var n int64
				if err := rows.Scan(&e, &r, &reason, &n, &updated); err != nil {
					return err
				}
				s.Rejected[reason] = n
				s.UpdatedAt = laterOf(s.UpdatedAt, updated)
				return nil
			}},
		{"age band tallies", `SELECT t.election_id, t.region_code, t.age_band, t.votes
FROM tally_age_bands t JOIN unnest($1::text[], $2::text[]) AS k(e, r) ON t.election_id = k.e AND t.region_code = k.r`,
			func(s *vote.TallySnapshot, rows pgx.Rows) error {
				var e, r, band string
				var n int64
				if err := rows.Scan(&e, &r, &band, &n); err != nil {
					return err
				}
				s.AgeBands[band] = n
				return nil
			}},
		{"timeline tallies", `SELECT t.election_id, t.region_code, t.bucket, t.votes
FROM tally_timeline t JOIN unnest($1::text[], $2::text[]) AS k(e, r) ON t.election_id = k.e AND t.region_code = k.r`,
			func(s *vote.TallySnapshot, rows pgx.Rows) error {
				var e, r string
				var bucket time.Time
				var n int64
				if err := rows.Scan(&e, &r, &bucket, &n); err != nil {
					return err
				}
				s.Timeline[vote.FormatTime(bucket)] = n
				return nil
			}},
	}

	// One read-only transaction, so all tables show the same commit.
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("begin snapshot read: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	for _, q := range queries {
		rows, err := tx.Query(ctx, q.sql, elections, regionCodes)
		if err != nil {
			return nil, fmt.Errorf("read %s of %d regions: %w", q.what, len(keys), err)
		}
		for rows.Next() {
			// The first two columns are always the key.
			values := rows.RawValues()
			key := RegionKey{ElectionID: string(values[0]), RegionCode: string(values[1])}
			s, ok := byKey[key]
			if !ok {
				continue
			}
			if err := q.scan(s, rows); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read %s of %s: %w", q.what, vote.TallyKey(key.ElectionID, key.RegionCode), err)
			}
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read %s of %d regions: %w", q.what, len(keys), err)
		}
	}

	snapshots := make([]vote.TallySnapshot, 0, len(keys))
	for _, k := range keys {
		snapshots = append(snapshots, *byKey[k])
	}
	slices.SortFunc(snapshots, func(a, b vote.TallySnapshot) int {
		return cmp.Or(cmp.Compare(a.ElectionID, b.ElectionID), cmp.Compare(a.RegionCode, b.RegionCode))
	})
	return snapshots, nil
}

// laterOf returns the later of a CastAtLayout time and t, formatted.
func laterOf(current string, t time.Time) string {
	formatted := vote.FormatTime(t)
	if current == "" || formatted > current {
		return formatted
	}
	return current
}

// Publisher sends tally snapshots to aggregated_votes_topic.
type Publisher interface {
	Publish(ctx context.Context, snapshots []vote.TallySnapshot) error
}

// KafkaPublisher publishes snapshots with a franz-go client, keyed by
// vote.TallyKey, and waits for every acknowledgement.
type KafkaPublisher struct {
	Client *kgo.Client
	// Topic defaults to vote.AggregatesTopic.
	Topic string
}

// Publish produces one record per snapshot and returns the first error.
func (p KafkaPublisher) Publish(ctx context.Context, snapshots []vote.TallySnapshot) error {
	if len(snapshots) == 0 {
		return nil
	}
	topic := cmp.Or(p.Topic, vote.AggregatesTopic)
	records := make([]*kgo.Record, len(snapshots))
	for i, s := range snapshots {
		value, err := json.Marshal(s)
		if err != nil {
			return fmt.Errorf("encode snapshot %s: %w", vote.TallyKey(s.ElectionID, s.RegionCode), err)
		}
		records[i] = &kgo.Record{Topic: topic, Key: []byte(vote.TallyKey(s.ElectionID, s.RegionCode)), Value: value}
	}
	if err := p.Client.ProduceSync(ctx, records...).FirstErr(); err != nil {
		return fmt.Errorf("publish %d snapshots to %s: %w", len(records), topic, err)
	}
	return nil
}
