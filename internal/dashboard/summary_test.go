package dashboard_test

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/votestream/votestream/internal/dashboard"
	"github.com/votestream/votestream/internal/vote"
)

func snapshot(election, region string, registered int64, updatedAt string, candidates ...vote.CandidateCount) vote.TallySnapshot {
	var accepted int64
	for _, c := range candidates {
		accepted += c.Votes
	}
	return vote.TallySnapshot{
		ElectionID: election, RegionCode: region, RegionName: "Region " + region,
		RegisteredVoters: registered, Accepted: accepted, Candidates: candidates,
		Rejected: map[string]int64{}, AgeBands: map[string]int64{}, Timeline: map[string]int64{},
		UpdatedAt: updatedAt,
	}
}

func votes(id, name, party string, n int64) vote.CandidateCount {
	return vote.CandidateCount{CandidateID: id, Name: name, Party: party, Votes: n}
}

func TestSummarizeTotalsAcrossRegions(t *testing.T) {
	a := snapshot("e1", "A", 100, "2024-11-05T20:00:00.000Z", votes("c1", "Ada", "Red", 40), votes("c2", "Bo", "Blue", 30))
	a.Rejected = map[string]int64{"duplicate_voter": 3, "unknown_candidate": 1}
	a.AgeBands = map[string]int64{"75+": 10, "18-24": 60}
	a.Timeline = map[string]int64{"2024-11-05T14:15:00.000Z": 20, "2024-11-05T14:00:00.000Z": 50}
	b := snapshot("e1", "B", -1, "2024-11-05T21:00:00.000Z", votes("c1", "Ada", "Red", 5), votes("c2", "Bo", "Blue", 25))
	b.Rejected = map[string]int64{"duplicate_voter": 2}
	b.AgeBands = map[string]int64{"18-24": 30}
	b.Timeline = map[string]int64{"2024-11-05T14:15:00.000Z": 30}
	other := snapshot("e0", "A", 10, "2024-11-05T22:00:00.000Z", votes("x", "Xi", "Green", 9))

	s := dashboard.Summarize([]vote.TallySnapshot{b, other, a}, "e1")

	if s.ElectionID != "e1" {
		t.Errorf("ElectionID = %q, want e1", s.ElectionID)
	}
	if want := []string{"e0", "e1"}; !reflect.DeepEqual(s.Elections, want) {
		t.Errorf("Elections = %v, want %v", s.Elections, want)
	}
	if s.UpdatedAt != "2024-11-05T21:00:00.000Z" {
		t.Errorf("UpdatedAt = %q, want the later region's", s.UpdatedAt)
	}
	if s.RegionsReporting != 2 {
		t.Errorf("RegionsReporting = %d, want 2", s.RegionsReporting)
	}
	if s.Accepted != 100 || s.Rejected != 6 || s.Received != 106 {
		t.Errorf("Accepted, Rejected, Received = %d, %d, %d, want 100, 6, 106", s.Accepted, s.Rejected, s.Received)
	}
	if s.Registered != 100 || s.AcceptedWhereRegistered != 70 || s.RegistrationRegions != 1 {
		t.Errorf("Registered, AcceptedWhereRegistered, RegistrationRegions = %d, %d, %d, want 100, 70, 1",
			s.Registered, s.AcceptedWhereRegistered, s.RegistrationRegions)
	}

	wantCandidates := []dashboard.CandidateTotal{
		{CandidateID: "c2", Name: "Bo", Party: "Blue", Votes: 55},
		{CandidateID: "c1", Name: "Ada", Party: "Red", Votes: 45},
	}
	if !reflect.DeepEqual(s.Candidates, wantCandidates) {
		t.Errorf("Candidates = %+v, want %+v", s.Candidates, wantCandidates)
	}
	if s.Leader == nil || s.Leader.CandidateID != "c2" || s.LeaderTied {
		t.Errorf("Leader = %+v (tied %v), want c2, not tied", s.Leader, s.LeaderTied)
	}
	wantParties := []dashboard.PartyTotal{{Party: "Blue", Votes: 55, RegionsWon: 1}, {Party: "Red", Votes: 45, RegionsWon: 1}}
	if !reflect.DeepEqual(s.Parties, wantParties) {
		t.Errorf("Parties = %+v, want %+v", s.Parties, wantParties)
	}

	wantRegions := []dashboard.RegionRow{
		{Code: "A", Name: "Region A", Registered: 100, Accepted: 70, Rejected: 4, Leader: "Ada", LeaderParty: "Red", LeaderVotes: 40, Margin: 10},
		{Code: "B", Name: "Region B", Registered: -1, Accepted: 30, Rejected: 2, Leader: "Bo", LeaderParty: "Blue", LeaderVotes: 25, Margin: 20},
	}
	if !reflect.DeepEqual(s.Regions, wantRegions) {
		t.Errorf("Regions = %+v, want %+v", s.Regions, wantRegions)
	}

	wantTimeline := []dashboard.TimelinePoint{
		{Start: "2024-11-05T14:00:00.000Z", Ballots: 50, Cumulative: 50},
		{Start: "2024-11-05T14:15:00.000Z", Ballots: 50, Cumulative: 100},
	}
	if !reflect.DeepEqual(s.Timeline, wantTimeline) {
		t.Errorf("Timeline = %+v, want %+v", s.Timeline, wantTimeline)
	}
	wantAges := []dashboard.NamedCount{{Name: "18-24", Count: 90}, {Name: "75+", Count: 10}}
	if !reflect.DeepEqual(s.AgeBands, wantAges) {
		t.Errorf("AgeBands = %+v, want %+v", s.AgeBands, wantAges)
	}
	wantRejected := []dashboard.NamedCount{{Name: "duplicate_voter", Count: 5}, {Name: "unknown_candidate", Count: 1}}
	if !reflect.DeepEqual(s.RejectedByReason, wantRejected) {
		t.Errorf("RejectedByReason = %+v, want %+v", s.RejectedByReason, wantRejected)
	}
}

func TestSummarizeEdgeCases(t *testing.T) {
	tests := []struct {
		name      string
		snapshots []vote.TallySnapshot
		election  string

		wantElection   string
		wantLeader     string // candidate id, "" for none
		wantTied       bool
		wantRegionsWon map[string]int
	}{
		{
			name:         "no snapshots",
			wantElection: "",
		},
		{
			name: "empty election id picks latest update",
			snapshots: []vote.TallySnapshot{
				snapshot("old", "A", -1, "2024-11-05T10:00:00.000Z", votes("c1", "Ada", "Red", 1)),
				snapshot("new", "A", -1, "2024-11-05T11:00:00.000Z", votes("c2", "Bo", "Blue", 1)),
			},
			wantElection:   "new",
			wantLeader:     "c2",
			wantRegionsWon: map[string]int{"Blue": 1},
		},
		{
			name: "tie at the top",
			snapshots: []vote.TallySnapshot{
				snapshot("e", "A", -1, "t", votes("c1", "Ada", "Red", 5), votes("c2", "Bo", "Blue", 5)),
			},
			election:       "e",
			wantElection:   "e",
			wantLeader:     "c1",
			wantTied:       true,
			wantRegionsWon: map[string]int{"Red": 0, "Blue": 0},
		},
		{
			name: "zero votes has no leader",
			snapshots: []vote.TallySnapshot{
				snapshot("e", "A", 10, "t", votes("c1", "Ada", "Red", 0)),
			},
			election:       "e",
			wantElection:   "e",
			wantRegionsWon: map[string]int{"Red": 0},
		},
		{
			name: "unknown election is empty",
			snapshots: []vote.TallySnapshot{
				snapshot("e", "A", 10, "t", votes("c1", "Ada", "Red", 3)),
			},
			election:     "missing",
			wantElection: "missing",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := dashboard.Summarize(tt.snapshots, tt.election)
			if s.ElectionID != tt.wantElection {
				t.Errorf("ElectionID = %q, want %q", s.ElectionID, tt.wantElection)
			}
			gotLeader := ""
			if s.Leader != nil {
				gotLeader = s.Leader.CandidateID
			}
			if gotLeader != tt.wantLeader {
				t.Errorf("Leader = %q, want %q", gotLeader, tt.wantLeader)
			}
			if s.LeaderTied != tt.wantTied {
				t.Errorf("LeaderTied = %v, want %v", s.LeaderTied, tt.wantTied)
			}
			gotWon := map[string]int{}
			for _, p := range s.Parties {
				gotWon[p.Party] = p.RegionsWon
			}
			if len(tt.wantRegionsWon) > 0 || len(gotWon) > 0 {
				if !reflect.DeepEqual(gotWon, tt.wantRegionsWon) {
					t.Errorf("regions won = %v, want %v", gotWon, tt.wantRegionsWon)
				}
			}
		})
	}
}

func TestSummarizeCutsLongLists(t *testing.T) {
	var snaps []vote.TallySnapshot
	var totalVotes int64
	candidateCount := dashboard.MaxCandidates + 3
	for i := range candidateCount {
		n := int64(1000 - i)
		totalVotes += n
		party := fmt.Sprintf("Party %02d", i)
		snaps = append(snaps, snapshot("e", fmt.Sprintf("R%02d", i), -1, "t", votes(fmt.Sprintf("c%02d", i), fmt.Sprintf("Cand %02d", i), party, n)))
	}

	s := dashboard.Summarize(snaps, "e")

	if len(s.Candidates) != dashboard.MaxCandidates {
		t.Fatalf("len(Candidates) = %d, want %d", len(s.Candidates), dashboard.MaxCandidates)
	}
	if s.OtherCandidates.Count != 3 {
		t.Errorf("OtherCandidates.Count = %d, want 3", s.OtherCandidates.Count)
	}
	var shown int64
	for _, c := range s.Candidates {
		shown += c.Votes
	}
	if shown+s.OtherCandidates.Votes != totalVotes {
		t.Errorf("shown %d + other %d candidate votes != total %d", shown, s.OtherCandidates.Votes, totalVotes)
	}
	if len(s.Parties) != dashboard.MaxParties {
		t.Errorf("len(Parties) = %d, want %d", len(s.Parties), dashboard.MaxParties)
	}
	if want := candidateCount - dashboard.MaxParties; s.OtherParties.Count != want {
		t.Errorf("OtherParties.Count = %d, want %d", s.OtherParties.Count, want)
	}
	if s.Candidates[0].CandidateID != "c00" {
		t.Errorf("first candidate = %s, want c00 with most votes", s.Candidates[0].CandidateID)
	}
}
