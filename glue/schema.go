// Package glue holds the one definition of the votes lake: the columns of the
// Glue table, the partition keys that the Firehose prefix writes, and the row
// that the transformation Lambda emits. The Parquet schema, the Athena DDL and
// the checks on sam-template.yaml are all derived from it.
package glue

import "time"

// Column is one column of the Glue votes table. Type is a Hive type name as
// Glue and Athena spell it.
type Column struct {
	Name    string
	Type    string
	Comment string
}

// Hive type names used by Columns.
const (
	TypeString    = "string"
	TypeInt       = "int"
	TypeBigint    = "bigint"
	TypeTimestamp = "timestamp"
)

// Columns lists the data columns of the votes table in file order. The
// partition keys are not among them: Glue keeps partition keys apart from
// columns, and Firehose writes them only into the object prefix.
var Columns = []Column{
	{"vote_id", TypeString, "UUID of the ballot, unique per ballot; redeliveries repeat it"},
	{"voter_key", TypeString, "HMAC-SHA256 of election and voter id; no raw voter id reaches the lake"},
	{"candidate_id", TypeString, "candidate id as sent on votes_topic"},
	{"candidate_name", TypeString, "candidate name from PostgreSQL, empty when unknown"},
	{"party", TypeString, "party of the candidate, empty when unknown"},
	{"region_code", TypeString, "region of the voter's registration"},
	{"region_name", TypeString, "name of that region"},
	{"age_band", TypeString, "age band of the voter on election day, such as 18-24"},
	{"channel", TypeString, "in_person, early or postal"},
	{"cast_at", TypeTimestamp, "event time of the ballot, UTC"},
	{"status", TypeString, "accepted, or rejected when enrichment found a problem"},
	{"reason", TypeString, "why the ballot was rejected, empty when accepted"},
	{"kafka_topic", TypeString, "topic the ballot was read from"},
	{"kafka_partition", TypeInt, "partition the ballot was read from"},
	{"kafka_offset", TypeBigint, "offset of the ballot in that partition"},
	{"kafka_timestamp", TypeTimestamp, "Kafka record timestamp, UTC"},
}

// PartitionKey is one key of the Firehose dynamic-partitioning prefix and of
// the Glue table's partition projection.
type PartitionKey struct {
	Name string
	// Format is the Go time layout of a date key, empty for other keys.
	Format string
}

// PartitionKeys lists the partition keys in prefix order.
var PartitionKeys = []PartitionKey{
	{Name: "election_id"},
	{Name: "dt", Format: "2006-01-02"},
	{Name: "hour", Format: "15"},
}

// Table names of the Glue catalog objects.
const (
	Database   = "votestream"
	VotesTable = "votes"
)

// Values of Row.Status.
const (
	StatusAccepted = "accepted"
	StatusRejected = "rejected"
)

// Values of Row.Reason for rejected rows.
const (
	ReasonUnknownVoter           = "unknown_voter"
	ReasonUnknownCandidate       = "unknown_candidate"
	ReasonCandidateOtherElection = "candidate_of_other_election"
)

// TimestampLayout is how the Lambda writes timestamp columns. Firehose's OpenX
// JSON SerDe reads it; it does not read numeric offsets such as +01:00.
const TimestampLayout = "2006-01-02T15:04:05.000Z"

// Row is one output row of the transformation Lambda. Its JSON keys are
// exactly the names in Columns, in the same order; a test enforces it.
type Row struct {
	VoteID         string `json:"vote_id"`
	VoterKey       string `json:"voter_key"`
	CandidateID    string `json:"candidate_id"`
	CandidateName  string `json:"candidate_name"`
	Party          string `json:"party"`
	RegionCode     string `json:"region_code"`
	RegionName     string `json:"region_name"`
	AgeBand        string `json:"age_band"`
	Channel        string `json:"channel"`
	CastAt         string `json:"cast_at"`
	Status         string `json:"status"`
	Reason         string `json:"reason"`
	KafkaTopic     string `json:"kafka_topic"`
	KafkaPartition int32  `json:"kafka_partition"`
	KafkaOffset    int64  `json:"kafka_offset"`
	KafkaTimestamp string `json:"kafka_timestamp"`
}

// PartitionValues returns the partition key values of a ballot cast at castAt
// in election electionID, keyed by PartitionKeys names.
func PartitionValues(electionID string, castAt time.Time) map[string]string {
	castAt = castAt.UTC()
	return map[string]string{
		"election_id": electionID,
		"dt":          castAt.Format("2006-01-02"),
		"hour":        castAt.Format("15"),
	}
}

// FormatTimestamp formats t in TimestampLayout.
func FormatTimestamp(t time.Time) string {
	return t.UTC().Format(TimestampLayout)
}
