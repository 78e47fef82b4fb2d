package tally

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// TimelineBucket is the width of the tally_timeline buckets and of the
// snapshot's Timeline.
const TimelineBucket = 15 * time.Minute

// countKey is one row of a tally table: an election, a region and the
// value of the table's third key column (candidate, reason, age band or
// bucket start).
type countKey struct {
	election, region, value string
}

// updateTallies adds the ballots that this transaction inserted to the tally
// tables. Keys are written in sorted order, so concurrent batches lock shared
// rows in the same order and rarely deadlock.
func (p *batchPlan) updateTallies(ctx context.Context, tx pgx.Tx) error {
	candidates := map[countKey]int64{}
	ageBands := map[countKey]int64{}
	timeline := map[countKey]int64{}
	regions := map[countKey]int64{}
	for _, a := range p.insertedAccepted {
		e := a.d.vote.ElectionID
		candidates[countKey{e, a.region, a.d.vote.CandidateID}]++
		ageBands[countKey{e, a.region, a.ageBand}]++
		timeline[countKey{e, a.region, a.d.castAt.Truncate(TimelineBucket).Format(time.RFC3339)}]++
		regions[countKey{e, a.region, ""}]++
	}
	rejected := map[countKey]int64{}
	for _, r := range p.insertedRejected {
		rejected[countKey{r.d.vote.ElectionID, r.region, r.reason}]++
	}

	upserts := []struct {
		counts map[countKey]int64
		sql    string
		what   string
	}{
		{candidates, `INSERT INTO tally_candidates (election_id, region_code, candidate_id, votes)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[])
ON CONFLICT (election_id, region_code, candidate_id) DO UPDATE SET votes = tally_candidates.votes + excluded.votes`, "candidate tallies"},
		{ageBands, `INSERT INTO tally_age_bands (election_id, region_code, age_band, votes)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[])
ON CONFLICT (election_id, region_code, age_band) DO UPDATE SET votes = tally_age_bands.votes + excluded.votes`, "age band tallies"},
		{timeline, `INSERT INTO tally_timeline (election_id, region_code, bucket, votes)
SELECT e, r, b::timestamptz, n FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS t(e, r, b, n)
ON CONFLICT (election_id, region_code, bucket) DO UPDATE SET votes = tally_timeline.votes + excluded.votes`, "timeline tallies"},
		{regions, `INSERT INTO tally_regions (election_id, region_code, accepted, updated_at)
SELECT e, r, n, now() FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS t(e, r, unused, n)
ON CONFLICT (election_id, region_code) DO UPDATE SET accepted = tally_regions.accepted + excluded.accepted, updated_at = excluded.updated_at`, "region tallies"},
		{rejected, `INSERT INTO tally_rejected (election_id, region_code, reason, ballots, updated_at)
SELECT e, r, reason, n, now() FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS t(e, r, reason, n)
ON CONFLICT (election_id, region_code, reason) DO UPDATE SET ballots = tally_rejected.ballots + excluded.ballots, updated_at = excluded.updated_at`, "reject tallies"},
	}
	for _, u := range upserts {
		if len(u.counts) == 0 {
			continue
		}
		keys := make([]countKey, 0, len(u.counts))
		for k := range u.counts {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b countKey) int {
			return cmp.Or(cmp.Compare(a.election, b.election), cmp.Compare(a.region, b.region), cmp.Compare(a.value, b.value))
		})
		elections, regionCodes, values, counts := make([]string, len(keys)), make([]string, len(keys)), make([]string, len(keys)), make([]int64, len(keys))
		for i, k := range keys {
			elections[i], regionCodes[i], values[i], counts[i] = k.election, k.region, k.value, u.counts[k]
		}
		if _, err := tx.Exec(ctx, u.sql, elections, regionCodes, values, counts); err != nil {
			return fmt.Errorf("update %d %s: %w", len(keys), u.what, err)
		}
	}
	return nil
}

func sortKeys(keys []RegionKey) {
	slices.SortFunc(keys, func(a, b RegionKey) int {
		return cmp.Or(cmp.Compare(a.ElectionID, b.ElectionID), cmp.Compare(a.RegionCode, b.RegionCode))
	})
}
