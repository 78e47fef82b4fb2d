package loader

import (
	"context"
	"time"

	"github.com/votestream/votestream/internal/election"
)

// voterColumns are the columns of voters that the copy fills, in the order of
// voterSource.Values.
var voterColumns = []string{"election_id", "id", "name", "birth_year", "region_code", "registered_at"}

// registrationLead is how long before election day every generated voter
// registered. The results carry no registration dates, so all voters share one.
const registrationLead = 30 * 24 * time.Hour

// progressEvery is how many voters pass between progress calls.
const progressEvery = 1 << 16

// voterSource streams the voters of an election to pgx's CopyFrom, one per
// counted vote in voter-index order, without holding them in memory.
type voterSource struct {
	ctx          context.Context
	electionID   string
	expansion    *election.Expansion
	day          time.Time
	registeredAt time.Time
	total        int64
	progress     func(done, total int64)

	// sent is the number of rows Next has produced; the current row has
	// voter index sent-1.
	sent   int64
	values []any
}

func newVoterSource(ctx context.Context, electionID string, expansion *election.Expansion, day time.Time, progress func(done, total int64)) *voterSource {
	return &voterSource{
		ctx:          ctx,
		electionID:   electionID,
		expansion:    expansion,
		day:          day,
		registeredAt: day.Add(-registrationLead),
		total:        expansion.Total(),
		progress:     progress,
		values:       make([]any, len(voterColumns)),
	}
}

// Next advances to the next voter. It stops early when the context ends, and
// Err then returns the context's error.
func (s *voterSource) Next() bool {
	if s.sent >= s.total || s.ctx.Err() != nil {
		return false
	}
	if s.progress != nil && s.sent > 0 && s.sent%progressEvery == 0 {
		s.progress(s.sent, s.total)
	}
	s.sent++
	return true
}

// Values returns the current voter's columns. The slice is reused by the next
// call, which pgx allows because it encodes a row before it calls Next again.
func (s *voterSource) Values() ([]any, error) {
	v := s.expansion.Voter(s.sent-1, s.day)
	s.values[0] = s.electionID
	s.values[1] = v.ID
	// The results name no voters, so each gets a placeholder name.
	s.values[2] = "Voter " + v.ID
	s.values[3] = int32(v.BirthYear)
	s.values[4] = v.Region
	s.values[5] = s.registeredAt
	return s.values, nil
}

func (s *voterSource) Err() error {
	return s.ctx.Err()
}
