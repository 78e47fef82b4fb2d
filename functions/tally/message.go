package tally

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/votestream/votestream/glue"
	"github.com/votestream/votestream/internal/vote"
)

// Reasons of rejected ballots, as stored in rejected_votes.reason. The
// unknown voter and candidate reasons are the ones the transformation Lambda
// writes into the lake, so the ledger and the lake count them alike.
const (
	ReasonDuplicateVoter         = "duplicate_voter"
	ReasonUnknownVoter           = glue.ReasonUnknownVoter
	ReasonUnknownCandidate       = glue.ReasonUnknownCandidate
	ReasonCandidateOtherElection = glue.ReasonCandidateOtherElection
	ReasonMalformed              = "malformed"
)

// Message is one votes_topic record, from a franz-go fetch or an MSK event.
type Message struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
}

// decoded is a Message with its value parsed, or the reason it is malformed.
type decoded struct {
	msg    Message
	vote   vote.Vote
	castAt time.Time
	// malformed is the parse or validation error; vote then holds whatever
	// fields could be read, so that the reject names its election if it can.
	malformed error
}

// decode parses a votes_topic value. Besides vote.ParseVote it requires a
// UUID vote_id, because the ledger stores vote ids as uuid.
func decode(m Message) decoded {
	d := decoded{msg: m}
	v, err := vote.ParseVote(m.Value)
	if err == nil {
		if _, uerr := uuid.Parse(v.VoteID); uerr != nil {
			err = fmt.Errorf("vote_id %q is not a UUID", v.VoteID)
		}
	}
	if err == nil {
		d.castAt, err = v.CastTime()
	}
	if err != nil {
		d.malformed = err
		// Best effort: keep the election id when the value is a JSON object,
		// so the reject counts under its election.
		var partial struct {
			ElectionID string `json:"election_id"`
		}
		if json.Unmarshal(m.Value, &partial) == nil {
			d.vote.ElectionID = partial.ElectionID
		}
		return d
	}
	d.vote = v
	return d
}

// sortMessages orders a batch by topic, partition and offset, which is the
// order in which the ledger rule is applied.
func sortMessages(msgs []Message) {
	slices.SortStableFunc(msgs, func(a, b Message) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition), cmp.Compare(a.Offset, b.Offset))
	})
}
