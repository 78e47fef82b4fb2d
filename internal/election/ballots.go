package election

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/votestream/votestream/internal/vote"
)

// Every derived value below (voter ids, birth years, vote ids, channels and
// cast times) is a pure function of the election and a seed, so a replay that
// is interrupted and started again produces the same ballots.

// voteNamespace scopes the name-based UUIDs of ballots.
var voteNamespace = uuid.MustParse("5b0f8c1e-3c55-4e0b-9a63-6f1d6b0c7a10")

// Voter is a registered voter derived from one counted vote.
type Voter struct {
	// Index is the 0-based position of the voter in the election's expansion
	// of results into ballots: the votes of the first row come first.
	Index     int64
	ID        string
	Region    string
	BirthYear int
}

// VoterID returns the voter id of the voter at index.
func VoterID(index int64) string {
	return strconv.FormatInt(index+1, 10)
}

// Expansion maps each counted vote of an election to the result row it came
// from, by voter index.
type Expansion struct {
	e *Election
	// ends[i] is the exclusive upper bound of the voter indices of Results[i].
	ends []int64
}

// Expand builds the mapping from voter index to result row.
func (e *Election) Expand() *Expansion {
	x := &Expansion{e: e, ends: make([]int64, len(e.Results))}
	var total int64
	for i, r := range e.Results {
		total += r.Votes
		x.ends[i] = total
	}
	return x
}

// Total returns the number of voters, which equals the number of counted votes.
func (x *Expansion) Total() int64 {
	if len(x.ends) == 0 {
		return 0
	}
	return x.ends[len(x.ends)-1]
}

// Result returns the result row whose vote the voter at index cast.
func (x *Expansion) Result(index int64) Result {
	i := sort.Search(len(x.ends), func(i int) bool { return x.ends[i] > index })
	return x.e.Results[i]
}

// Voter returns the registered voter at index.
func (x *Expansion) Voter(index int64, day time.Time) Voter {
	r := x.Result(index)
	return Voter{Index: index, ID: VoterID(index), Region: r.RegionCode, BirthYear: birthYear(x.e.ID, index, day.Year())}
}

// ageWeights is a fixed distribution of voter ages in bands of five years from
// 18 on: a rough shape of an adult electorate, not any country's census.
var ageWeights = []float64{7, 8, 9, 9, 9, 9, 9, 9, 8, 7, 6, 4, 3, 2, 1}

// birthYear draws a birth year from ageWeights with a generator seeded by the
// election and the voter, so that every process derives the same year.
func birthYear(electionID string, index int64, electionYear int) int {
	rng := rand.New(rand.NewPCG(seedOf(electionID), uint64(index)))
	var total float64
	for _, w := range ageWeights {
		total += w
	}
	pick := rng.Float64() * total
	band := 0
	for band < len(ageWeights)-1 && pick >= ageWeights[band] {
		pick -= ageWeights[band]
		band++
	}
	age := 18 + band*5 + rng.IntN(5)
	return electionYear - age
}

func seedOf(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// Day describes when polls are open on election day, in UTC.
type Day struct {
	Date  time.Time
	Open  time.Duration
	Close time.Duration
}

// Meta is the optional sidecar <name>.election.json of a results file.
type Meta struct {
	// ElectionDate is the polling day as YYYY-MM-DD.
	ElectionDate string `json:"election_date"`
	// PollsOpenUTC and PollsCloseUTC are HH:MM in UTC.
	PollsOpenUTC  string `json:"polls_open_utc"`
	PollsCloseUTC string `json:"polls_close_utc"`
	Description   string `json:"description"`
}

// MetaPath returns the path of the sidecar file of a results file.
func MetaPath(resultsPath string) string {
	return strings.TrimSuffix(resultsPath, ".csv") + ".election.json"
}

// DefaultDay returns the polling day of an election: from its sidecar file when
// there is one, otherwise 07:00 to 22:00 UTC on the results file's modification
// date, so that a replay of the same file partitions the same way.
func DefaultDay(resultsPath string) (Day, error) {
	day := Day{Open: 7 * time.Hour, Close: 22 * time.Hour}
	data, err := os.ReadFile(MetaPath(resultsPath))
	if errors.Is(err, os.ErrNotExist) {
		info, err := os.Stat(resultsPath)
		if err != nil {
			return day, fmt.Errorf("stat election file: %w", err)
		}
		y, m, d := info.ModTime().UTC().Date()
		day.Date = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		return day, nil
	}
	if err != nil {
		return day, fmt.Errorf("read election metadata: %w", err)
	}

	var meta Meta
	if err := json.Unmarshal(data, &meta); err != nil {
		return day, fmt.Errorf("%s: invalid JSON: %w", MetaPath(resultsPath), err)
	}
	if day.Date, err = ParseDate(meta.ElectionDate); err != nil {
		return day, fmt.Errorf("%s: %w", MetaPath(resultsPath), err)
	}
	if meta.PollsOpenUTC != "" {
		if day.Open, err = parseClock(meta.PollsOpenUTC); err != nil {
			return day, fmt.Errorf("%s: polls_open_utc: %w", MetaPath(resultsPath), err)
		}
	}
	if meta.PollsCloseUTC != "" {
		if day.Close, err = parseClock(meta.PollsCloseUTC); err != nil {
			return day, fmt.Errorf("%s: polls_close_utc: %w", MetaPath(resultsPath), err)
		}
	}
	if day.Close <= day.Open {
		return day, fmt.Errorf("%s: polls close at %s, not after they open at %s", MetaPath(resultsPath), day.Close, day.Open)
	}
	return day, nil
}

// ParseDate parses an election date given as YYYY-MM-DD.
func ParseDate(s string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return t, fmt.Errorf("election date %q is not a date such as 2024-11-05", s)
	}
	return t, nil
}

func parseClock(s string) (time.Duration, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a time such as 07:00", s)
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

// turnoutCurve weights each twentieth of polling hours by how many ballots are
// cast in it: a morning and an evening peak, as polling stations report.
var turnoutCurve = []float64{6, 7, 7, 6, 5, 4, 4, 4, 5, 5, 5, 4, 4, 5, 6, 7, 8, 8, 6, 3}

// CastAt returns the event time of the ballot at position of total in replay
// order: the inverse of the cumulative turnout curve over polling hours.
func (d Day) CastAt(position, total int64) time.Time {
	var sum float64
	for _, w := range turnoutCurve {
		sum += w
	}
	target := (float64(position) + 0.5) / float64(total) * sum
	span := d.Close - d.Open
	step := float64(span) / float64(len(turnoutCurve))
	var offset float64
	for _, w := range turnoutCurve {
		if target <= w {
			offset += target / w * step
			break
		}
		target -= w
		offset += step
	}
	at := d.Date.Add(d.Open + time.Duration(offset)).Truncate(time.Millisecond)
	if last := d.Date.Add(d.Close - time.Millisecond); at.After(last) {
		at = last
	}
	return at
}

// Order returns the replay order of an election's voters: a permutation of
// voter indices, shuffled by seed, so that ballots of all regions interleave
// over the day as they would at the polls.
func Order(total int64, seed uint64) []int32 {
	order := make([]int32, total)
	for i := range order {
		order[i] = int32(i)
	}
	rng := rand.New(rand.NewPCG(seed, 0x766f746573747265))
	rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	return order
}

// Ballot returns the votes_topic message of the voter at index, cast at the
// given replay position. seq distinguishes further ballots of the same voter
// (0 for the first), which the ledger must reject.
func (x *Expansion) Ballot(index int64, seq int, at time.Time) vote.Vote {
	r := x.Result(index)
	voterID := VoterID(index)
	name := x.e.ID + "/" + voterID + "/" + strconv.Itoa(seq)
	return vote.Vote{
		VoteID:      uuid.NewSHA1(voteNamespace, []byte(name)).String(),
		ElectionID:  x.e.ID,
		VoterID:     voterID,
		CandidateID: r.CandidateID,
		CastAt:      vote.FormatTime(at),
		Channel:     channelOf(x.e.ID, index),
	}
}

// channelOf picks the channel of a voter: 70% in person, 20% early, 10% postal.
func channelOf(electionID string, index int64) string {
	switch n := (seedOf(electionID) ^ uint64(index)*0x9e3779b97f4a7c15) % 10; {
	case n < 7:
		return vote.ChannelInPerson
	case n < 9:
		return vote.ChannelEarly
	default:
		return vote.ChannelPostal
	}
}
