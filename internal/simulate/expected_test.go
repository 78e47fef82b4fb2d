package simulate

import (
	"context"
	"testing"

	"github.com/votestream/votestream/internal/vote"
)

func TestExpectedFaultsEqualsReplay(t *testing.T) {
	e := tinyElection(t)
	cluster := newCluster(t, 2, vote.VotesTopic)
	client := newClient(t, cluster, ProducerOpts()...)
	faults := Faults{DoubleVoteRate: 0.1, RedeliveryRate: 0.05, UnknownVoterRate: 0.03, UnknownCandidateRate: 0.02, MalformedRate: 0.01}

	result, err := Run(context.Background(), Config{Election: e, Day: testDay, Seed: 11, Client: client, Faults: faults})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	got := ExpectedFaults(faults, 11, e.TotalVotes())
	if got != result.Faults {
		t.Errorf("ExpectedFaults = %+v, replay produced %+v", got, result.Faults)
	}
	if got.DoubleVotes == 0 || got.Redeliveries == 0 {
		t.Errorf("ExpectedFaults = %+v: the rates should produce some of each on %d ballots", got, e.TotalVotes())
	}
	if none := ExpectedFaults(Faults{}, 11, e.TotalVotes()); none != (FaultCounts{}) {
		t.Errorf("ExpectedFaults without faults = %+v, want zero", none)
	}
}
