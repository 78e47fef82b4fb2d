// Package vote defines the messages that travel between votestream's components:
// the ballot on votes_topic and the envelope in which the bridge carries a ballot,
// with its Kafka coordinates, into Firehose.
package vote

import (
	"encoding/json"
	"fmt"
	"time"
)

// Topic names shared by the simulator, the bridge and the tally consumer.
const (
	VotersTopic     = "voters_topic"
	VotesTopic      = "votes_topic"
	AggregatesTopic = "aggregated_votes_topic"
	DeadLetterTopic = "votes_dead_letter_topic"
)

// Ballot channels accepted in Vote.Channel.
const (
	ChannelInPerson = "in_person"
	ChannelEarly    = "early"
	ChannelPostal   = "postal"
)

// CastAtLayout is the layout of Vote.CastAt: RFC 3339 in UTC with a literal Z.
const CastAtLayout = "2006-01-02T15:04:05.000Z"

// Vote is the value of a votes_topic message. Its key is VoterID, so that every
// ballot of one voter lands in one partition, in order.
type Vote struct {
	VoteID      string `json:"vote_id"`
	ElectionID  string `json:"election_id"`
	VoterID     string `json:"voter_id"`
	CandidateID string `json:"candidate_id"`
	CastAt      string `json:"cast_at"`
	Channel     string `json:"channel"`
}

// Voter is the value of a voters_topic message: a registration, without a name.
type Voter struct {
	VoterID      string `json:"voter_id"`
	ElectionID   string `json:"election_id"`
	RegionCode   string `json:"region_code"`
	BirthYear    int    `json:"birth_year"`
	RegisteredAt string `json:"registered_at"`
}

// Envelope is one line of a Firehose record written by the bridge: the raw
// ballot and where it was read from, so that lineage and deduplication by
// Kafka coordinates survive into the lake.
type Envelope struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	// Timestamp is the Kafka record timestamp in CastAtLayout.
	Timestamp string          `json:"timestamp"`
	Vote      json.RawMessage `json:"vote"`
}

// Validate reports the first missing or malformed field of v.
func (v Vote) Validate() error {
	required := []struct{ name, value string }{
		{"vote_id", v.VoteID},
		{"election_id", v.ElectionID},
		{"voter_id", v.VoterID},
		{"candidate_id", v.CandidateID},
		{"cast_at", v.CastAt},
	}
	for _, field := range required {
		if field.value == "" {
			return fmt.Errorf("required field %q is missing or empty", field.name)
		}
	}
	if _, err := v.CastTime(); err != nil {
		return err
	}
	switch v.Channel {
	case ChannelInPerson, ChannelEarly, ChannelPostal:
	default:
		return fmt.Errorf("channel %q is invalid: use %q, %q or %q", v.Channel, ChannelInPerson, ChannelEarly, ChannelPostal)
	}
	return nil
}

// CastTime parses CastAt. It accepts RFC 3339 with any fraction of a second,
// but only in UTC (a trailing Z), because the lake partitions by the UTC date and hour.
func (v Vote) CastTime() (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v.CastAt)
	if err != nil {
		return time.Time{}, fmt.Errorf("cast_at %q is not an RFC 3339 timestamp such as 2024-11-05T14:03:00.000Z: %w", v.CastAt, err)
	}
	if len(v.CastAt) == 0 || v.CastAt[len(v.CastAt)-1] != 'Z' {
		return time.Time{}, fmt.Errorf("cast_at %q is not in UTC: end it with Z, not a numeric offset", v.CastAt)
	}
	return t.UTC(), nil
}

// FormatTime formats t in CastAtLayout.
func FormatTime(t time.Time) string {
	return t.UTC().Format(CastAtLayout)
}
