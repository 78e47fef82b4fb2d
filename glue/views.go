package glue

// View is a named SQL view over the votes table. Its SQL uses only what both
// Athena (Trino) and the local engine (DuckDB) accept: window functions,
// CTE-free SELECTs and standard aggregates.
type View struct {
	Name    string
	Comment string
	SQL     string
}

// Views lists the views in dependency order: each refers only to the votes
// table and to views before it.
var Views = []View{
	{
		Name:    "unique_votes",
		Comment: "one row per vote_id: Firehose is at-least-once and the bridge may resend, so the lake can hold a ballot twice",
		SQL: `SELECT * FROM (
  SELECT v.*, row_number() OVER (PARTITION BY election_id, vote_id ORDER BY kafka_partition, kafka_offset) AS copy_rank
  FROM votes v
) WHERE copy_rank = 1`,
	},
	{
		Name:    "valid_votes",
		Comment: "the first accepted ballot of each voter in Kafka order; a voter's ballots share a partition because the key is the voter id",
		SQL: `SELECT * FROM (
  SELECT u.*, row_number() OVER (PARTITION BY election_id, voter_key ORDER BY kafka_partition, kafka_offset) AS ballot_rank
  FROM unique_votes u
  WHERE status = 'accepted'
) WHERE ballot_rank = 1`,
	},
	{
		Name:    "results_by_candidate",
		Comment: "valid votes per candidate and party",
		SQL: `SELECT election_id, candidate_id, candidate_name, party, count(*) AS votes
FROM valid_votes
GROUP BY election_id, candidate_id, candidate_name, party`,
	},
	{
		Name:    "results_by_party",
		Comment: "valid votes per party",
		SQL: `SELECT election_id, party, count(*) AS votes
FROM valid_votes
GROUP BY election_id, party`,
	},
	{
		Name:    "results_by_region",
		Comment: "valid votes per region, candidate and party: the grain of official results",
		SQL: `SELECT election_id, region_code, region_name, candidate_name, party, count(*) AS votes
FROM valid_votes
GROUP BY election_id, region_code, region_name, candidate_name, party`,
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
	},
}
