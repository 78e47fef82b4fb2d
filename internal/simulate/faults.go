package simulate

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/votestream/votestream/internal/election"
	"github.com/votestream/votestream/internal/vote"
)

// Faults sets how often a replay adds a faulty record next to a ballot. Each
// rate is a fraction of ballots from 0 to 1, drawn independently per ballot
// and kind, so one ballot can carry several faults. Every added record is
// one that the ledger and the lake must not count, so official totals still
// come out exactly.
type Faults struct {
	// DoubleVoteRate adds a second ballot of the same voter after the first,
	// with a new vote_id and a candidate drawn from the whole election
	// (possibly the same one). The ledger rejects it as duplicate_voter.
	DoubleVoteRate float64
	// RedeliveryRate produces the ballot's message a second time, byte for
	// byte. It is not a reject: the ledger and the lake drop it by vote_id.
	RedeliveryRate float64
	// UnknownVoterRate adds a ballot whose voter id is not registered.
	UnknownVoterRate float64
	// UnknownCandidateRate adds a ballot of the same voter for a candidate id
	// that no election has.
	UnknownCandidateRate float64
	// MalformedRate adds a JSON object that names the election but whose
	// cast_at is not a timestamp, so it fails vote.ParseVote.
	MalformedRate float64
}

// Values that the fault records carry.
const (
	// UnknownVoterPrefix starts the voter id of an unknown-voter fault.
	UnknownVoterPrefix = "unregistered-"
	// UnknownCandidateID is the candidate id of an unknown-candidate fault.
	UnknownCandidateID = "no-such-candidate"
	// MalformedCastAt is the cast_at of a malformed fault.
	MalformedCastAt = "when-the-polls-close"
)

// seq values passed to election.Expansion.Ballot, one per kind of extra
// ballot, so that every fault ballot has its own stable vote_id.
const (
	seqDoubleVote       = 1
	seqUnknownVoter     = 2
	seqUnknownCandidate = 3
	seqMalformed        = 4
)

// Validate checks that each rate is a fraction from 0 to 1.
func (f Faults) Validate() error {
	rates := []struct {
		name string
		rate float64
	}{
		{"double vote", f.DoubleVoteRate},
		{"redelivery", f.RedeliveryRate},
		{"unknown voter", f.UnknownVoterRate},
		{"unknown candidate", f.UnknownCandidateRate},
		{"malformed", f.MalformedRate},
	}
	for _, r := range rates {
		if !(r.rate >= 0 && r.rate <= 1) {
			return fmt.Errorf("%s fault rate %v is invalid: give a fraction of ballots from 0 to 1", r.name, r.rate)
		}
	}
	return nil
}

func (f Faults) any() bool {
	return f.DoubleVoteRate > 0 || f.RedeliveryRate > 0 || f.UnknownVoterRate > 0 || f.UnknownCandidateRate > 0 || f.MalformedRate > 0
}

// FaultCounts counts the fault records that a replay produced and that
// Kafka acknowledged.
type FaultCounts struct {
	DoubleVotes       int64 `json:"double_votes"`
	Redeliveries      int64 `json:"redeliveries"`
	UnknownVoters     int64 `json:"unknown_voters"`
	UnknownCandidates int64 `json:"unknown_candidates"`
	Malformed         int64 `json:"malformed"`
}

// ExpectedRejected returns the rejects that the faults must cause in the
// ledger, by the reason names of functions/tally. Redeliveries are not
// rejects and are absent.
func (c FaultCounts) ExpectedRejected() map[string]int64 {
	expected := map[string]int64{}
	for reason, n := range map[string]int64{
		"duplicate_voter":   c.DoubleVotes,
		"unknown_voter":     c.UnknownVoters,
		"unknown_candidate": c.UnknownCandidates,
		"malformed":         c.Malformed,
	} {
		if n > 0 {
			expected[reason] = n
		}
	}
	return expected
}

// faultKind tags a produced record, so its acknowledgement is counted.
type faultKind int

const (
	noFault faultKind = iota
	faultDoubleVote
	faultRedelivery
	faultUnknownVoter
	faultUnknownCandidate
	faultMalformed
)

func (c *FaultCounts) add(kind faultKind) {
	switch kind {
	case faultDoubleVote:
		c.DoubleVotes++
	case faultRedelivery:
		c.Redeliveries++
	case faultUnknownVoter:
		c.UnknownVoters++
	case faultUnknownCandidate:
		c.UnknownCandidates++
	case faultMalformed:
		c.Malformed++
	}
}

// plannedRecord is one record to produce for a replay position.
type plannedRecord struct {
	kind  faultKind
	key   []byte
	value []byte
}

// faultDraws returns the generator of a position and its first five draws,
// one per kind of fault in the order plan tests them.
func faultDraws(seed uint64, position int64) (*rand.Rand, [5]float64) {
	rng := rand.New(rand.NewPCG(seed, uint64(position)^0x6661756c7473))
	return rng, [5]float64{rng.Float64(), rng.Float64(), rng.Float64(), rng.Float64(), rng.Float64()}
}

// ExpectedFaults returns the fault records that a whole replay of total
// ballots with this seed produces, without producing any. A resumed replay
// produces the same ones, so a check of the ledger's rejects does not
// depend on how often the replay was interrupted.
func ExpectedFaults(faults Faults, seed uint64, total int64) FaultCounts {
	var counts FaultCounts
	if !faults.any() {
		return counts
	}
	rates := [5]float64{faults.RedeliveryRate, faults.DoubleVoteRate, faults.UnknownVoterRate, faults.UnknownCandidateRate, faults.MalformedRate}
	kinds := [5]faultKind{faultRedelivery, faultDoubleVote, faultUnknownVoter, faultUnknownCandidate, faultMalformed}
	for position := range total {
		_, draws := faultDraws(seed, position)
		for i, draw := range draws {
			if draw < rates[i] {
				counts.add(kinds[i])
			}
		}
	}
	return counts
}

// faultPlanner draws the faults of each position from the seed and the
// position alone, so a resumed replay adds the same faults at the same positions.
type faultPlanner struct {
	faults     Faults
	seed       uint64
	expansion  *election.Expansion
	candidates []election.Candidate
}

// plan returns the records of one position: the ballot, then its faults in
// a fixed order. Every extra ballot of a voter follows the voter's first
// ballot in the same partition, so the ledger sees the first one first.
func (fp *faultPlanner) plan(position int64, index int64, at time.Time, ballot vote.Vote, value []byte) ([]plannedRecord, error) {
	records := []plannedRecord{{kind: noFault, key: []byte(ballot.VoterID), value: value}}
	if !fp.faults.any() {
		return records, nil
	}
	rng, draws := faultDraws(fp.seed, position)

	if draws[0] < fp.faults.RedeliveryRate {
		records = append(records, plannedRecord{kind: faultRedelivery, key: []byte(ballot.VoterID), value: value})
	}
	if draws[1] < fp.faults.DoubleVoteRate {
		second := fp.expansion.Ballot(index, seqDoubleVote, at)
		if len(fp.candidates) > 0 {
			second.CandidateID = fp.candidates[rng.IntN(len(fp.candidates))].ID
		}
		if err := fp.add(&records, faultDoubleVote, second); err != nil {
			return nil, err
		}
	}
	if draws[2] < fp.faults.UnknownVoterRate {
		stranger := fp.expansion.Ballot(index, seqUnknownVoter, at)
		stranger.VoterID = UnknownVoterPrefix + stranger.VoterID
		if err := fp.add(&records, faultUnknownVoter, stranger); err != nil {
			return nil, err
		}
	}
	if draws[3] < fp.faults.UnknownCandidateRate {
		b := fp.expansion.Ballot(index, seqUnknownCandidate, at)
		b.CandidateID = UnknownCandidateID
		if err := fp.add(&records, faultUnknownCandidate, b); err != nil {
			return nil, err
		}
	}
	if draws[4] < fp.faults.MalformedRate {
		b := fp.expansion.Ballot(index, seqMalformed, at)
		b.CastAt = MalformedCastAt
		if err := fp.add(&records, faultMalformed, b); err != nil {
			return nil, err
		}
	}
	return records, nil
}

func (fp *faultPlanner) add(records *[]plannedRecord, kind faultKind, b vote.Vote) error {
	value, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("encode fault ballot %s: %w", b.VoteID, err)
	}
	*records = append(*records, plannedRecord{kind: kind, key: []byte(b.VoterID), value: value})
	return nil
}
