package lake

import (
	"sort"

	"github.com/votestream/votestream/internal/election"
)

// RowDiff is one (region, candidate, party) row whose lake count differs from
// the official count. A row missing on one side counts 0 there.
type RowDiff struct {
	RegionCode string
	Candidate  string
	Party      string
	Official   int64
	Lake       int64
}

// Comparison is the outcome of comparing a lake with official results.
type Comparison struct {
	// Rows counts the distinct (region, candidate, party) keys on either side.
	Rows int
	// Diffs lists the rows that differ, sorted by region, candidate and party.
	Diffs []RowDiff
	// LakeVotes is the number of valid votes in the lake.
	LakeVotes int64
}

// Matches reports whether every row agrees.
func (c Comparison) Matches() bool { return len(c.Diffs) == 0 }

// Compare compares official results with results_by_region of the lake, row
// by row, keyed by region code, candidate name and party.
func Compare(official []election.Result, lake []RegionResult) Comparison {
	type key struct{ region, candidate, party string }
	counts := make(map[key][2]int64, len(official))
	for _, r := range official {
		k := key{r.RegionCode, r.Candidate, r.Party}
		c := counts[k]
		c[0] += r.Votes
		counts[k] = c
	}
	var cmp Comparison
	for _, r := range lake {
		k := key{r.RegionCode, r.Candidate, r.Party}
		c := counts[k]
		c[1] += r.Votes
		counts[k] = c
		cmp.LakeVotes += r.Votes
	}

	cmp.Rows = len(counts)
	for k, c := range counts {
		if c[0] != c[1] {
			cmp.Diffs = append(cmp.Diffs, RowDiff{RegionCode: k.region, Candidate: k.candidate, Party: k.party, Official: c[0], Lake: c[1]})
		}
	}
	sort.Slice(cmp.Diffs, func(i, j int) bool {
		a, b := cmp.Diffs[i], cmp.Diffs[j]
		if a.RegionCode != b.RegionCode {
			return a.RegionCode < b.RegionCode
		}
		if a.Candidate != b.Candidate {
			return a.Candidate < b.Candidate
		}
		return a.Party < b.Party
	})
	return cmp
}
