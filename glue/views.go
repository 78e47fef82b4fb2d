package glue

// View is a named SQL view over the votes and regions tables. Its SQL is
// Trino SQL as Athena runs it; DuckDB runs the text that ForDuckDB derives
// from it.
//
// NOTE: the Trino text follows the Trino and Presto documentation of
// row_number, count, date_trunc, minute, bigint * interval, CASE, CAST and
// LEFT JOIN, and runs on DuckDB after ForDuckDB, but it has never run on
// Athena. Every query that reads the votes table needs a static
// election_id = '…' filter, because Athena's injected partition projection
// rejects queries without one (Athena user guide, "Use dynamic ID
// partitioning"). Whether Athena carries a filter on regions.election_id in
// turnout_by_region through the join to the votes table is unverified. A view
// keeps the column list that SELECT * had when it was created, so the views
// must be created again after a column is added to the votes table.
type View struct {
	Name    string
	Comment string
	SQL     string
	// OrderBy is the ORDER BY list that votestream query uses when it prints
	// the whole view. A view itself has no order.
	OrderBy string
}

// Views lists the views in dependency order: each refers only to the votes
// and regions tables and to views before it.
var Views = []View{
	{
		Name:    "unique_votes",
		Comment: "one row per vote_id: Firehose is at-least-once and the bridge may resend, so the lake can hold a ballot twice",
		SQL: `SELECT * FROM (
  SELECT v.*, row_number() OVER (PARTITION BY election_id, vote_id ORDER BY kafka_partition, kafka_offset) AS copy_rank
  FROM votes v
) WHERE copy_rank = 1`,
		OrderBy: "election_id, kafka_partition, kafka_offset",
	},
	{
		Name:    "valid_votes",
		Comment: "the first accepted ballot of each voter in Kafka order; a voter's ballots share a partition because the key is the voter id",
		SQL: `SELECT * FROM (
  SELECT u.*, row_number() OVER (PARTITION BY election_id, voter_key ORDER BY kafka_partition, kafka_offset) AS ballot_rank
  FROM unique_votes u
  WHERE status = 'accepted'
) WHERE ballot_rank = 1`,
		OrderBy: "election_id, kafka_partition, kafka_offset",
	},
	{
		Name:    "results_by_candidate",
		Comment: "valid votes per candidate and party",
		SQL: `SELECT election_id, candidate_id, candidate_name, party, count(*) AS votes
FROM valid_votes
GROUP BY election_id, candidate_id, candidate_name, party`,
		OrderBy: "election_id, votes DESC, candidate_name",
	},
	{
		Name:    "results_by_party",
		Comment: "valid votes per party",
		SQL: `SELECT election_id, party, count(*) AS votes
FROM valid_votes
GROUP BY election_id, party`,
		OrderBy: "election_id, votes DESC, party",
	},
	{
		Name:    "results_by_region",
		Comment: "valid votes per region, candidate and party: the grain of official results",
		SQL: `SELECT election_id, region_code, region_name, candidate_name, party, count(*) AS votes
FROM valid_votes
GROUP BY election_id, region_code, region_name, candidate_name, party`,
		OrderBy: "election_id, region_code, votes DESC, candidate_name",
	},
	{
		Name:    "votes_by_age_band",
		Comment: "valid votes per region and age band of the voter on election day",
		SQL: `SELECT election_id, region_code, age_band, count(*) AS votes
FROM valid_votes
GROUP BY election_id, region_code, age_band`,
		OrderBy: "election_id, region_code, age_band",
	},
	{
		Name:    "votes_over_time",
		Comment: "valid votes per region and quarter hour of cast_at, UTC; bucket_start is the start of the quarter hour",
		SQL: `SELECT election_id, region_code, date_trunc('hour', cast_at) + (minute(cast_at) / 15) * INTERVAL '15' MINUTE AS bucket_start, count(*) AS votes
FROM valid_votes
GROUP BY election_id, region_code, date_trunc('hour', cast_at) + (minute(cast_at) / 15) * INTERVAL '15' MINUTE`,
		OrderBy: "election_id, bucket_start, region_code",
	},
	{
		Name:    "turnout_by_region",
		Comment: "valid votes in the lake per region of the regions table, against registered voters where known; turnout is votes / registered_voters, official_turnout is ballots_cast / registered_voters, both NULL without a registration figure",
		SQL: `SELECT r.election_id, r.region_code, r.region_name, r.registered_voters,
  r.ballots_cast AS official_ballots_cast, r.valid_votes AS official_valid_votes,
  coalesce(v.votes, 0) AS votes,
  CASE WHEN r.registered_voters > 0 THEN CAST(coalesce(v.votes, 0) AS double) / r.registered_voters END AS turnout,
  CASE WHEN r.registered_voters > 0 THEN CAST(r.ballots_cast AS double) / r.registered_voters END AS official_turnout
FROM regions r
LEFT JOIN (
  SELECT election_id, region_code, count(*) AS votes
  FROM valid_votes
  GROUP BY election_id, region_code
) v ON v.election_id = r.election_id AND v.region_code = r.region_code`,
		OrderBy: "election_id, region_code",
	},
	{
		Name:    "rejected_votes",
		Comment: "ballots that enrichment rejected, and later ballots of voters who had already voted",
		SQL: `SELECT election_id, reason, count(*) AS ballots FROM unique_votes WHERE status = 'rejected' GROUP BY election_id, reason
UNION ALL
SELECT election_id, 'duplicate_voter' AS reason, count(*) AS ballots FROM (
  SELECT election_id, row_number() OVER (PARTITION BY election_id, voter_key ORDER BY kafka_partition, kafka_offset) AS ballot_rank
  FROM unique_votes WHERE status = 'accepted'
) WHERE ballot_rank > 1 GROUP BY election_id`,
		OrderBy: "election_id, reason",
	},
}
