package dashboard

import (
	"cmp"
	"slices"
	"time"

	"github.com/votestream/votestream/glue"
	"github.com/votestream/votestream/internal/vote"
)

// Limits on the lists in a Summary. An election such as a UK general election
// has thousands of candidates and dozens of parties; beyond these counts the
// rest are summed into OtherCandidates and OtherParties so that a bar chart
// stays readable and a push stays small.
const (
	MaxCandidates = 12
	MaxParties    = 10
)

// Summary is the whole dashboard of one election, aggregated over the latest
// snapshot of each of its regions. It is the data of every server-sent event
// and of GET /api/summary.
type Summary struct {
	// ElectionID is the election summarized, empty when no snapshot has
	// arrived yet. Elections lists every election on the topic, sorted.
	ElectionID string   `json:"election_id"`
	Elections  []string `json:"elections"`

	// UpdatedAt is the latest UpdatedAt of the election's snapshots.
	UpdatedAt        string `json:"updated_at"`
	RegionsReporting int    `json:"regions_reporting"`

	// Accepted counts the first ballot of each voter; Rejected counts the
	// other ballots, and Received is their sum.
	Accepted int64 `json:"accepted"`
	Rejected int64 `json:"rejected"`
	Received int64 `json:"received"`

	// Turnout is AcceptedWhereRegistered / Registered, summed over the
	// regions that publish registered voters. RegistrationRegions counts
	// those regions; with none, Registered is 0 and turnout is unknown.
	Registered              int64 `json:"registered"`
	AcceptedWhereRegistered int64 `json:"accepted_where_registered"`
	RegistrationRegions     int   `json:"registration_regions"`

	// Leader is the candidate with most votes and LeadingParty the party
	// with most votes; both are nil before any vote. LeaderTied is true when
	// the next candidate has as many votes as Leader.
	Leader       *CandidateTotal `json:"leader"`
	LeaderTied   bool            `json:"leader_tied"`
	LeadingParty *PartyTotal     `json:"leading_party"`

	// Candidates and Parties are sorted by votes, most first, then by name.
	Candidates      []CandidateTotal `json:"candidates"`
	OtherCandidates Remainder        `json:"other_candidates"`
	Parties         []PartyTotal     `json:"parties"`
	OtherParties    Remainder        `json:"other_parties"`

	// Regions is sorted by accepted ballots, most first, then by code.
	Regions []RegionRow `json:"regions"`

	// Timeline is sorted by bucket start.
	Timeline []TimelinePoint `json:"timeline"`

	// AgeBands lists glue.AgeBands in order, then any other band by name.
	AgeBands []NamedCount `json:"age_bands"`
	// RejectedByReason is sorted by count, most first, then by reason.
	RejectedByReason []NamedCount `json:"rejected_by_reason"`

	// Audit is the last value given to SetAudit, nil until then.
	Audit *Audit `json:"audit"`
}

// CandidateTotal is the votes of one candidate summed over regions.
type CandidateTotal struct {
	CandidateID string `json:"candidate_id"`
	Name        string `json:"name"`
	Party       string `json:"party"`
	Votes       int64  `json:"votes"`
}

// PartyTotal is the votes of one party summed over regions. RegionsWon counts
// the regions where the party's candidate has strictly more votes than any
// other; a region with a tied lead counts for nobody.
type PartyTotal struct {
	Party      string `json:"party"`
	Votes      int64  `json:"votes"`
	RegionsWon int    `json:"regions_won"`
}

// Remainder is what a list cut at MaxCandidates or MaxParties left out.
type Remainder struct {
	Count int   `json:"count"`
	Votes int64 `json:"votes"`
}

// RegionRow is one row of the regional table.
type RegionRow struct {
	Code string `json:"code"`
	Name string `json:"name"`
	// Registered is -1 where the source does not publish it.
	Registered int64 `json:"registered"`
	Accepted   int64 `json:"accepted"`
	Rejected   int64 `json:"rejected"`

	// Leader, LeaderParty and LeaderVotes describe the region's leading
	// candidate; Margin is the lead over the runner-up in votes, 0 on a tie.
	Leader      string `json:"leader"`
	LeaderParty string `json:"leader_party"`
	LeaderVotes int64  `json:"leader_votes"`
	Margin      int64  `json:"margin"`
}

// TimelinePoint is one quarter hour of accepted ballots by cast_at.
type TimelinePoint struct {
	// Start is the bucket start in vote.CastAtLayout.
	Start      string `json:"start"`
	Ballots    int64  `json:"ballots"`
	Cumulative int64  `json:"cumulative"`
}

// NamedCount is a count under a name, such as an age band or a reject reason.
type NamedCount struct {
	Name  string `json:"name"`
	Count int64  `json:"count"`
}

// Audit is the result of comparing the lake's valid_votes with the ledger,
// which the process that runs both (the demo) computes and passes to SetAudit.
type Audit struct {
	// Agree is true when the lake and the ledger hold the same votes per
	// region and candidate.
	Agree       bool  `json:"agree"`
	LakeVotes   int64 `json:"lake_votes"`
	LedgerVotes int64 `json:"ledger_votes"`
	// MismatchedRows counts the (region, candidate) rows that differ.
	MismatchedRows int `json:"mismatched_rows"`
	// Detail is an optional sentence shown under the indicator.
	Detail    string    `json:"detail,omitempty"`
	CheckedAt time.Time `json:"checked_at"`
}

// Summarize aggregates the snapshots of electionID. Snapshots of other
// elections are ignored except for the list in Summary.Elections. An empty
// electionID selects the election with the latest UpdatedAt.
func Summarize(snapshots []vote.TallySnapshot, electionID string) Summary {
	s := Summary{Elections: electionIDs(snapshots), Regions: []RegionRow{}}
	if electionID == "" {
		electionID = latestElection(snapshots)
	}
	s.ElectionID = electionID

	candidates := map[string]*CandidateTotal{}
	parties := map[string]*PartyTotal{}
	ageBands := map[string]int64{}
	rejected := map[string]int64{}
	buckets := map[string]int64{}

	for _, snap := range snapshots {
		if snap.ElectionID != electionID {
			continue
		}
		if snap.RegionCode == "" {
			// Ballots of unknown voters have no region: the tally consumer
			// publishes their rejects under an empty region code.
			for reason, n := range snap.Rejected {
				rejected[reason] += n
				s.Rejected += n
			}
			continue
		}
		s.RegionsReporting++
		s.UpdatedAt = max(s.UpdatedAt, snap.UpdatedAt)
		s.Accepted += snap.Accepted
		if snap.RegisteredVoters >= 0 {
			s.Registered += snap.RegisteredVoters
			s.AcceptedWhereRegistered += snap.Accepted
			s.RegistrationRegions++
		}

		row := RegionRow{Code: snap.RegionCode, Name: snap.RegionName, Registered: snap.RegisteredVoters, Accepted: snap.Accepted}
		for reason, n := range snap.Rejected {
			rejected[reason] += n
			row.Rejected += n
		}
		s.Rejected += row.Rejected

		for _, c := range snap.Candidates {
			total := candidates[c.CandidateID]
			if total == nil {
				total = &CandidateTotal{CandidateID: c.CandidateID, Name: c.Name, Party: c.Party}
				candidates[c.CandidateID] = total
			}
			total.Votes += c.Votes

			party := parties[c.Party]
			if party == nil {
				party = &PartyTotal{Party: c.Party}
				parties[c.Party] = party
			}
			party.Votes += c.Votes
		}
		if leader, margin, ok := regionLeader(snap.Candidates); ok {
			row.Leader, row.LeaderParty, row.LeaderVotes, row.Margin = leader.Name, leader.Party, leader.Votes, margin
			if margin > 0 {
				parties[leader.Party].RegionsWon++
			}
		}
		s.Regions = append(s.Regions, row)

		for band, n := range snap.AgeBands {
			ageBands[band] += n
		}
		for start, n := range snap.Timeline {
			buckets[start] += n
		}
	}
	s.Received = s.Accepted + s.Rejected

	s.Candidates, s.OtherCandidates = topCandidates(candidates)
	if len(s.Candidates) > 0 && s.Candidates[0].Votes > 0 {
		leader := s.Candidates[0]
		s.Leader = &leader
		s.LeaderTied = len(s.Candidates) > 1 && s.Candidates[1].Votes == leader.Votes
	}
	s.Parties, s.OtherParties = topParties(parties)
	if len(s.Parties) > 0 && s.Parties[0].Votes > 0 {
		leading := s.Parties[0]
		s.LeadingParty = &leading
	}

	slices.SortFunc(s.Regions, func(a, b RegionRow) int {
		return cmp.Or(cmp.Compare(b.Accepted, a.Accepted), cmp.Compare(a.Code, b.Code))
	})
	s.Timeline = timeline(buckets)
	s.AgeBands = orderedAgeBands(ageBands)
	s.RejectedByReason = byCountDesc(rejected)
	return s
}

// regionLeader returns the candidate with most votes in one region and the
// lead over the runner-up; ok is false when no candidate has a vote.
func regionLeader(counts []vote.CandidateCount) (leader vote.CandidateCount, margin int64, ok bool) {
	var runnerUp int64
	for _, c := range counts {
		switch {
		case c.Votes > leader.Votes:
			runnerUp = leader.Votes
			leader = c
		case c.Votes > runnerUp:
			runnerUp = c.Votes
		}
	}
	return leader, leader.Votes - runnerUp, leader.Votes > 0
}

func topCandidates(totals map[string]*CandidateTotal) ([]CandidateTotal, Remainder) {
	all := make([]CandidateTotal, 0, len(totals))
	for _, t := range totals {
		all = append(all, *t)
	}
	slices.SortFunc(all, func(a, b CandidateTotal) int {
		return cmp.Or(cmp.Compare(b.Votes, a.Votes), cmp.Compare(a.Name, b.Name), cmp.Compare(a.CandidateID, b.CandidateID))
	})
	if len(all) <= MaxCandidates {
		return all, Remainder{}
	}
	var rest Remainder
	for _, c := range all[MaxCandidates:] {
		rest.Count++
		rest.Votes += c.Votes
	}
	return all[:MaxCandidates], rest
}

func topParties(totals map[string]*PartyTotal) ([]PartyTotal, Remainder) {
	all := make([]PartyTotal, 0, len(totals))
	for _, t := range totals {
		all = append(all, *t)
	}
	slices.SortFunc(all, func(a, b PartyTotal) int {
		return cmp.Or(cmp.Compare(b.Votes, a.Votes), cmp.Compare(a.Party, b.Party))
	})
	if len(all) <= MaxParties {
		return all, Remainder{}
	}
	var rest Remainder
	for _, p := range all[MaxParties:] {
		rest.Count++
		rest.Votes += p.Votes
	}
	return all[:MaxParties], rest
}

func timeline(buckets map[string]int64) []TimelinePoint {
	starts := make([]string, 0, len(buckets))
	for start := range buckets {
		starts = append(starts, start)
	}
	// Bucket starts are in vote.CastAtLayout, which sorts as text in time order.
	slices.Sort(starts)

	points := make([]TimelinePoint, 0, len(starts))
	var cumulative int64
	for _, start := range starts {
		cumulative += buckets[start]
		points = append(points, TimelinePoint{Start: start, Ballots: buckets[start], Cumulative: cumulative})
	}
	return points
}

func orderedAgeBands(counts map[string]int64) []NamedCount {
	bands := make([]NamedCount, 0, len(counts))
	for _, band := range glue.AgeBands {
		if n, ok := counts[band]; ok {
			bands = append(bands, NamedCount{Name: band, Count: n})
		}
	}
	var others []NamedCount
	for band, n := range counts {
		if !slices.Contains(glue.AgeBands, band) {
			others = append(others, NamedCount{Name: band, Count: n})
		}
	}
	slices.SortFunc(others, func(a, b NamedCount) int { return cmp.Compare(a.Name, b.Name) })
	return append(bands, others...)
}

func byCountDesc(counts map[string]int64) []NamedCount {
	list := make([]NamedCount, 0, len(counts))
	for name, n := range counts {
		list = append(list, NamedCount{Name: name, Count: n})
	}
	slices.SortFunc(list, func(a, b NamedCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Name, b.Name))
	})
	return list
}

func electionIDs(snapshots []vote.TallySnapshot) []string {
	ids := []string{}
	for _, snap := range snapshots {
		if !slices.Contains(ids, snap.ElectionID) {
			ids = append(ids, snap.ElectionID)
		}
	}
	slices.Sort(ids)
	return ids
}

// latestElection returns the election of the snapshot with the latest
// UpdatedAt, so that a dashboard over a topic with several replays shows the
// one running now.
func latestElection(snapshots []vote.TallySnapshot) string {
	var id, latest string
	for _, snap := range snapshots {
		if id == "" || snap.UpdatedAt > latest || (snap.UpdatedAt == latest && snap.ElectionID < id) {
			id, latest = snap.ElectionID, snap.UpdatedAt
		}
	}
	return id
}
