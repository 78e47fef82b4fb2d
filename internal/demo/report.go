package demo

import (
	"fmt"
	"io"
	"maps"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/votestream/votestream/glue/lake"
)

// regionTableRows is how many regions the report lists; the full table is
// one query away with votestream query.
const regionTableRows = 10

// maxDiffRows bounds how many differing rows the report lists.
const maxDiffRows = 20

// PrintReport writes the human-readable outcome of a demo run.
func PrintReport(w io.Writer, s *Summary) {
	fmt.Fprintf(w, "\nElection %s: results from the lake (%s)\n\n", s.Election, s.LakeDir)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "votes\tshare\t candidate\t party\t")
	for _, c := range s.Candidates {
		fmt.Fprintf(tw, "%s\t%s\t %s\t %s\t\n", formatCount(c.Votes), share(c.Votes, s.LakeVotes), c.Candidate, c.Party)
	}
	tw.Flush()

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "votes\tshare\t party\t")
	for _, p := range s.Parties {
		fmt.Fprintf(tw, "%s\t%s\t %s\t\n", formatCount(p.Votes), share(p.Votes, s.LakeVotes), p.Party)
	}
	tw.Flush()

	printRegions(w, s)

	fmt.Fprintln(w)
	printComparison(w, "in the lake", s.LakeVotes, s.OfficialVotes, s.RowsCompared, s.Diffs)
	printComparison(w, "in the ledger", s.LedgerVotes, s.OfficialVotes, s.RowsCompared, s.LedgerDiffs)
	if s.LakeMatchesLedger {
		fmt.Fprintln(w, "The lake and the ledger agree in every region/candidate row.")
	} else {
		fmt.Fprintln(w, "The lake and the ledger differ.")
	}
	fmt.Fprintf(w, "Rejected by the ledger: %s", formatReasons(s.Rejected))
	switch {
	case !maps.Equal(s.Rejected, s.ExpectedRejected):
		fmt.Fprintf(w, "; the injected faults require %s\n", formatReasons(s.ExpectedRejected))
	case len(s.Rejected) > 0:
		fmt.Fprintln(w, " (as the injected faults require)")
	default:
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "Rejected in the lake: %s\n", formatReasons(s.LakeRejected))
	if s.DeadLettered > 0 {
		fmt.Fprintf(w, "Dead-letter topic: %s messages the bridge could not send (malformed ballots never reach the lake)\n", formatCount(s.DeadLettered))
	}
	if s.DuplicatesInLake > 0 {
		fmt.Fprintf(w, "Copies in the lake: %s rows repeat a vote_id (redeliveries and resends after faults); unique_votes removes them\n", formatCount(s.DuplicatesInLake))
	}
	if s.BridgeRestarts > 0 || s.RetriedEntries > 0 {
		fmt.Fprintf(w, "Chaos: the bridge was killed and restarted %d times; the local Firehose failed %s entries, which the bridge sent again\n",
			s.BridgeRestarts, formatCount(s.RetriedEntries))
	}

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, st := range s.Stages {
		fmt.Fprintf(tw, "  %s\t%.1f s\n", st.Name, st.Seconds)
	}
	tw.Flush()
	switch {
	case s.ResumedAt >= s.OfficialVotes && s.OfficialVotes > 0:
		fmt.Fprintf(w, "Resumed: an earlier run had already replayed all %s votes; this run only checked them in %.1f s\n",
			formatCount(s.OfficialVotes), s.ElapsedSeconds)
	default:
		if s.ResumedAt > 0 {
			fmt.Fprintf(w, "Resumed at ballot %s of %s.\n", formatCount(s.ResumedAt), formatCount(s.OfficialVotes))
		}
		fmt.Fprintf(w, "Ran %s votes through the stack in %.1f s in all; from the election load to the last Parquet object %.1f s: %s votes/s\n",
			formatCount(s.OfficialVotes), s.ElapsedSeconds, s.PipelineSeconds, formatCount(int64(s.VotesPerSecond)))
	}
}

// printRegions lists the regions with the most valid votes and their leader.
func printRegions(w io.Writer, s *Summary) {
	type region struct {
		code, name    string
		votes         int64
		leader, party string
		leaderVotes   int64
	}
	byCode := map[string]*region{}
	var regions []*region
	for _, r := range s.Regions {
		reg, ok := byCode[r.RegionCode]
		if !ok {
			reg = &region{code: r.RegionCode, name: r.RegionName}
			byCode[r.RegionCode] = reg
			regions = append(regions, reg)
		}
		reg.votes += r.Votes
		if r.Votes > reg.leaderVotes {
			reg.leader, reg.party, reg.leaderVotes = r.Candidate, r.Party, r.Votes
		}
	}
	sort.Slice(regions, func(i, j int) bool {
		if regions[i].votes != regions[j].votes {
			return regions[i].votes > regions[j].votes
		}
		return regions[i].code < regions[j].code
	})

	fmt.Fprintf(w, "\nTop %d of %d regions by valid votes:\n", min(regionTableRows, len(regions)), len(regions))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  region\tname\tvotes\tleader\tparty\tshare")
	for i, r := range regions {
		if i == regionTableRows {
			break
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", r.code, r.name, formatCount(r.votes), r.leader, r.party, share(r.leaderVotes, r.votes))
	}
	tw.Flush()
}

func share(n, total int64) string {
	if total == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", float64(n)*100/float64(total))
}

// printComparison writes one line comparing counted votes with the official
// results, followed by the rows that differ.
func printComparison(w io.Writer, where string, votes, official int64, rows int, diffs []lake.RowDiff) {
	if len(diffs) == 0 && votes == official {
		fmt.Fprintf(w, "%s votes %s; matches the official results in all %s region/candidate rows\n",
			formatCount(votes), where, formatCount(int64(rows)))
		return
	}
	fmt.Fprintf(w, "%s votes %s, %s official; %d of %d region/candidate rows differ:\n",
		formatCount(votes), where, formatCount(official), len(diffs), rows)
	for i, d := range diffs {
		if i == maxDiffRows {
			fmt.Fprintf(w, "  ... and %d more\n", len(diffs)-maxDiffRows)
			break
		}
		fmt.Fprintf(w, "  %s  %s (%s): counted %s, official %s\n", d.RegionCode, d.Candidate, d.Party, formatCount(d.Lake), formatCount(d.Official))
	}
}

// formatReasons writes counts by reason, such as "3 duplicate_voter, 1 malformed".
func formatReasons(counts map[string]int64) string {
	if len(counts) == 0 {
		return "none"
	}
	reasons := make([]string, 0, len(counts))
	for reason, n := range counts {
		reasons = append(reasons, fmt.Sprintf("%s %s", formatCount(n), reason))
	}
	sort.Strings(reasons)
	return strings.Join(reasons, ", ")
}
