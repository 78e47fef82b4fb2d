package transform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"
	"unicode/utf8"

	"github.com/votestream/votestream/glue"
	"github.com/votestream/votestream/internal/vote"
)

// ballot is one decoded vote with the Kafka coordinates it was read from.
type ballot struct {
	vote           vote.Vote
	castAt         time.Time
	topic          string
	partition      int32
	offset         int64
	kafkaTimestamp time.Time
}

// decodedRecord is an input record split into ballots, or the reason it
// cannot be transformed.
type decodedRecord struct {
	ballots       []ballot
	partitionKeys map[string]string
	err           error
}

// decodeRecord decodes one input record. mskTopic names the topic of MSK
// records, whose metadata carry only partition and offset.
func decodeRecord(r EventRecord, mskTopic string) decodedRecord {
	var ballots []ballot
	var err error
	if r.FromMSK() {
		ballots, err = decodeMSKValue(r, mskTopic)
	} else {
		ballots, err = decodeEnvelopes(r.Data)
	}
	if err != nil {
		return decodedRecord{err: err}
	}

	keys := glue.PartitionValues(ballots[0].vote.ElectionID, ballots[0].castAt)
	for i, b := range ballots[1:] {
		other := glue.PartitionValues(b.vote.ElectionID, b.castAt)
		if !maps.Equal(keys, other) {
			return decodedRecord{err: fmt.Errorf("line %d has partition keys %v but line 1 has %v: one record must hold one election, date and hour", i+2, other, keys)}
		}
	}
	return decodedRecord{ballots: ballots, partitionKeys: keys}
}

// decodeEnvelopes splits a Direct PUT record into its vote.Envelope lines.
// Blank lines, such as a trailing newline, are skipped.
func decodeEnvelopes(data []byte) ([]ballot, error) {
	var ballots []ballot
	for n, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		b, err := decodeEnvelope(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		ballots = append(ballots, b)
	}
	if len(ballots) == 0 {
		return nil, errors.New("record is empty: it contains no envelope line")
	}
	return ballots, nil
}

// decodedEnvelope is vote.Envelope with the ballot decoded in the same pass,
// instead of a RawMessage that would be scanned a second time.
type decodedEnvelope struct {
	Topic     string     `json:"topic"`
	Partition int32      `json:"partition"`
	Offset    int64      `json:"offset"`
	Timestamp string     `json:"timestamp"`
	Vote      *vote.Vote `json:"vote"`
}

func decodeEnvelope(line []byte) (ballot, error) {
	// encoding/json replaces invalid UTF-8 silently, so it is checked first,
	// as vote.ParseVote does for a bare ballot.
	if !utf8.Valid(line) {
		return ballot{}, errors.New("envelope is not valid UTF-8")
	}
	var env decodedEnvelope
	if err := json.Unmarshal(line, &env); err != nil {
		return ballot{}, fmt.Errorf("not a JSON envelope: %w", err)
	}
	if env.Vote == nil {
		return ballot{}, errors.New(`envelope has no "vote" field`)
	}
	if env.Topic == "" {
		return ballot{}, errors.New(`envelope has no "topic" field`)
	}
	kafkaTimestamp, err := time.Parse(time.RFC3339Nano, env.Timestamp)
	if err != nil {
		return ballot{}, fmt.Errorf("envelope timestamp %q is not an RFC 3339 time: %w", env.Timestamp, err)
	}
	if err := env.Vote.Validate(); err != nil {
		return ballot{}, fmt.Errorf("invalid vote: %w", err)
	}
	castAt, err := env.Vote.CastTime()
	if err != nil {
		return ballot{}, fmt.Errorf("invalid vote: %w", err)
	}
	return ballot{vote: *env.Vote, castAt: castAt, topic: env.Topic, partition: env.Partition, offset: env.Offset, kafkaTimestamp: kafkaTimestamp.UTC()}, nil
}

// decodeMSKValue decodes an MSK record, which holds one votes_topic message.
// MSK metadata carry no Kafka record timestamp, so the row's kafka_timestamp
// is the time Firehose read the record.
func decodeMSKValue(r EventRecord, topic string) ([]ballot, error) {
	b, err := decodeVote(r.KafkaRecordValue)
	if err != nil {
		return nil, err
	}
	b.topic = topic
	arrival := r.ApproximateArrivalTimestamp
	if m := r.MSKRecordMetadata; m != nil {
		b.partition, b.offset = int32(m.PartitionID), int64(m.Offset)
		if m.ApproximateArrivalTimestamp != 0 {
			arrival = int64(m.ApproximateArrivalTimestamp)
		}
	}
	b.kafkaTimestamp = time.UnixMilli(arrival).UTC()
	return []ballot{b}, nil
}

func decodeVote(value []byte) (ballot, error) {
	v, err := vote.ParseVote(value)
	if err != nil {
		return ballot{}, fmt.Errorf("invalid vote: %w", err)
	}
	castAt, err := v.CastTime()
	if err != nil {
		return ballot{}, fmt.Errorf("invalid vote: %w", err)
	}
	return ballot{vote: v, castAt: castAt}, nil
}
