package regions

import (
	"strings"
	"testing"

	"github.com/votestream/votestream/glue"
	"github.com/votestream/votestream/internal/election"
)

func TestFromElectionMapsBlankToNull(t *testing.T) {
	e := &election.Election{ID: "e1", Regions: []election.Region{
		{Code: "A", Name: "Alpha", RegisteredVoters: 100, BallotsCast: 0, ValidVotes: 58},
		{Code: "B", Name: "Beta", RegisteredVoters: -1, BallotsCast: -1, ValidVotes: -1},
	}}
	rows := FromElection(e)
	if len(rows) != 2 {
		t.Fatalf("got %d rows, want 2", len(rows))
	}
	a, b := rows[0], rows[1]
	if a.ElectionID != "e1" || a.RegionCode != "A" || a.RegionName != "Alpha" {
		t.Errorf("row A = %+v", a)
	}
	if a.RegisteredVoters == nil || *a.RegisteredVoters != 100 || a.BallotsCast == nil || *a.BallotsCast != 0 || a.ValidVotes == nil || *a.ValidVotes != 58 {
		t.Errorf("row A figures = %v %v %v, want 100 0 58", a.RegisteredVoters, a.BallotsCast, a.ValidVotes)
	}
	if b.RegisteredVoters != nil || b.BallotsCast != nil || b.ValidVotes != nil {
		t.Errorf("row B figures = %v %v %v, want all nil", b.RegisteredVoters, b.BallotsCast, b.ValidVotes)
	}
}

func TestWriteLakeRejectsOtherElection(t *testing.T) {
	_, err := WriteLake(t.TempDir(), "e1", []glue.RegionRow{{ElectionID: "e2", RegionCode: "A"}})
	if err == nil || !strings.Contains(err.Error(), `belongs to election "e2"`) {
		t.Errorf("error = %v, want one naming the other election", err)
	}
}
