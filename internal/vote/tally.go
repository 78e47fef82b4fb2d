package vote

import "strings"

// TallySnapshot is the value of an aggregated_votes_topic message: the whole
// current count of one region of one election, so that a reader that starts
// at any offset, or reads a snapshot twice, is still right. The topic is
// compacted and keyed by TallyKey.
type TallySnapshot struct {
	ElectionID string `json:"election_id"`
	RegionCode string `json:"region_code"`
	RegionName string `json:"region_name"`
	// RegisteredVoters is -1 where the source does not publish it.
	RegisteredVoters int64 `json:"registered_voters"`

	// Accepted counts the first ballot of each voter; Candidates splits it.
	Accepted   int64            `json:"accepted"`
	Candidates []CandidateCount `json:"candidates"`
	// Rejected counts ballots by reason, such as duplicate_voter.
	Rejected map[string]int64 `json:"rejected"`
	// AgeBands counts accepted ballots by the voter's age band.
	AgeBands map[string]int64 `json:"age_bands"`
	// Timeline counts accepted ballots by quarter hour of cast_at, keyed by
	// the bucket start in CastAtLayout.
	Timeline map[string]int64 `json:"timeline"`

	// UpdatedAt is when the ledger transaction behind this snapshot
	// committed, in CastAtLayout.
	UpdatedAt string `json:"updated_at"`
}

// CandidateCount is the accepted ballots of one candidate in a snapshot.
type CandidateCount struct {
	CandidateID string `json:"candidate_id"`
	Name        string `json:"name"`
	Party       string `json:"party"`
	Votes       int64  `json:"votes"`
}

// TallyKey returns the aggregated_votes_topic key of a region's snapshot.
func TallyKey(electionID, regionCode string) string {
	return electionID + "/" + regionCode
}

// SplitTallyKey splits a key made by TallyKey. Election ids contain no '/'.
func SplitTallyKey(key string) (electionID, regionCode string, ok bool) {
	return strings.Cut(key, "/")
}
