package election

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeElection writes a results file and, when regions is not empty, a
// regions file beside it, and returns the results path.
func writeElection(t *testing.T, name, results, regions string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, name+".csv")
	if err := os.WriteFile(path, []byte(results), 0o644); err != nil {
		t.Fatal(err)
	}
	if regions != "" {
		if err := os.WriteFile(RegionsPath(path), []byte(regions), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

const trickyResults = `region_code,region_name,candidate,party,votes
R1,"Ruislip, Northwood and Pinner",Áine Groogan,Green,3
R1,"Ruislip, Northwood and Pinner","Jo ""JJ"" O'Neil","Labour, Co-op",1
R1,"Ruislip, Northwood and Pinner",Greg Smith,Conservative,2
R1,"Ruislip, Northwood and Pinner",Greg Smith,Green,2
R2,Zoë's Town,Áine Groogan,Green,5
`

const trickyRegions = `region_code,region_name,registered_voters,ballots_cast,valid_votes
R1,"Ruislip, Northwood and Pinner",100,9,8
R2,Zoë's Town,,,5
R3,Empty Region,50,0,0
`

func TestLoadQuotedAccentedNames(t *testing.T) {
	e, err := Load(writeElection(t, "tricky-2024", trickyResults, trickyRegions))
	if err != nil {
		t.Fatal(err)
	}
	if e.ID != "tricky-2024" {
		t.Errorf("ID = %q, want tricky-2024", e.ID)
	}
	if got := e.Results[0].RegionName; got != "Ruislip, Northwood and Pinner" {
		t.Errorf("region name = %q", got)
	}
	if got := e.Results[1].Candidate; got != `Jo "JJ" O'Neil` {
		t.Errorf("quoted candidate = %q", got)
	}
	if got := e.Results[1].Party; got != "Labour, Co-op" {
		t.Errorf("party with comma = %q", got)
	}
	if got := e.TotalVotes(); got != 13 {
		t.Errorf("TotalVotes = %d, want 13", got)
	}
}

func TestLoadCandidateIdentity(t *testing.T) {
	e, err := Load(writeElection(t, "tricky-2024", trickyResults, trickyRegions))
	if err != nil {
		t.Fatal(err)
	}
	// Same name and party in two regions is one candidate; same name, other
	// party in one region is another.
	if e.Results[0].CandidateID != e.Results[4].CandidateID {
		t.Errorf("Áine Groogan of Green has ids %q and %q", e.Results[0].CandidateID, e.Results[4].CandidateID)
	}
	if e.Results[2].CandidateID == e.Results[3].CandidateID {
		t.Errorf("both Greg Smiths got id %q", e.Results[2].CandidateID)
	}
	if len(e.Candidates) != 4 {
		t.Errorf("len(Candidates) = %d, want 4", len(e.Candidates))
	}
}

func TestLoadEmptyRegionAndUnknowns(t *testing.T) {
	e, err := Load(writeElection(t, "tricky-2024", trickyResults, trickyRegions))
	if err != nil {
		t.Fatal(err)
	}
	empty, ok := e.Region("R3")
	if !ok {
		t.Fatal("region R3 without results is missing")
	}
	if empty.ValidVotes != 0 || empty.RegisteredVoters != 50 {
		t.Errorf("R3 = %+v", empty)
	}
	r2, _ := e.Region("R2")
	if r2.RegisteredVoters != -1 || r2.BallotsCast != -1 {
		t.Errorf("blank cells of R2 = %+v, want -1", r2)
	}
}

func TestLoadWithoutRegionsFile(t *testing.T) {
	e, err := Load(writeElection(t, "noregions", trickyResults, ""))
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Regions) != 2 {
		t.Errorf("len(Regions) = %d, want 2 taken from the results", len(e.Regions))
	}
}

func TestLoadRejectsBadInput(t *testing.T) {
	header := "region_code,region_name,candidate,party,votes\n"
	cases := []struct {
		name, results, regions, wantErr string
	}{
		{"missing column", "region_code,region_name,candidate,votes\nR1,A,B,1\n", "", `no column "party"`},
		{"negative votes", header + "R1,A,B,P,-3\n", "", `votes "-3" is not a whole number`},
		{"text votes", header + "R1,A,B,P,many\n", "", `votes "many"`},
		{"duplicate row", header + "R1,A,B,P,1\nR1,A,B,P,2\n", "", "appears twice"},
		{"unknown region", header + "R9,A,B,P,1\n", "region_code,region_name\nR1,A\n", `region_code "R9" is not in`},
		{"sum differs", header + "R1,A,B,P,1\n", "region_code,region_name,valid_votes\nR1,A,2\n", "add up to 1"},
		{"empty file", "", "", "the file is empty"},
		{"bad quoting", header + "R1,\"A,B,P,1\n", "", "extraneous or missing"},
		{"invalid UTF-8", header + "R1,A,\xff,P,1\n", "", "not valid UTF-8"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(writeElection(t, "bad", tc.results, tc.regions))
			if err == nil {
				t.Fatalf("Load succeeded, want error containing %q", tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestLoadRejectsBadID(t *testing.T) {
	_, err := Load(writeElection(t, "bad name", "region_code,region_name,candidate,party,votes\n", ""))
	if err == nil || !strings.Contains(err.Error(), "rename the file") {
		t.Errorf("error = %v, want a hint to rename the file", err)
	}
}

func TestExpansionReproducesResults(t *testing.T) {
	e, err := Load(writeElection(t, "tricky-2024", trickyResults, trickyRegions))
	if err != nil {
		t.Fatal(err)
	}
	x := e.Expand()
	if x.Total() != 13 {
		t.Fatalf("Total = %d, want 13", x.Total())
	}

	day := Day{Date: time.Date(2024, 7, 4, 0, 0, 0, 0, time.UTC), Open: 7 * time.Hour, Close: 22 * time.Hour}
	order := Order(x.Total(), 42)
	counts := make(map[[2]string]int64)
	voteIDs := make(map[string]bool)
	for p, index := range order {
		v := x.Ballot(int64(index), 0, day.CastAt(int64(p), x.Total()))
		if err := v.Validate(); err != nil {
			t.Fatalf("ballot %d is invalid: %v", p, err)
		}
		voter := x.Voter(int64(index), day.Date)
		counts[[2]string{voter.Region, v.CandidateID}]++
		voteIDs[v.VoteID] = true
	}
	for _, r := range e.Results {
		if got := counts[[2]string{r.RegionCode, r.CandidateID}]; got != r.Votes {
			t.Errorf("region %s candidate %s: %d ballots, want %d", r.RegionCode, r.Candidate, got, r.Votes)
		}
	}
	if len(voteIDs) != 13 {
		t.Errorf("%d distinct vote ids, want 13", len(voteIDs))
	}
}

func TestBallotIsDeterministic(t *testing.T) {
	e, err := Load(writeElection(t, "tricky-2024", trickyResults, trickyRegions))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 7, 4, 9, 0, 0, 0, time.UTC)
	a := e.Expand().Ballot(5, 0, at)
	b := e.Expand().Ballot(5, 0, at)
	if a != b {
		t.Errorf("ballot differs between expansions: %+v vs %+v", a, b)
	}
	if second := e.Expand().Ballot(5, 1, at); second.VoteID == a.VoteID {
		t.Errorf("a second ballot of voter 5 reuses vote id %s", a.VoteID)
	}
}

func TestCastAtWithinPollingHours(t *testing.T) {
	day := Day{Date: time.Date(2024, 11, 5, 0, 0, 0, 0, time.UTC), Open: 10 * time.Hour, Close: 23*time.Hour + 59*time.Minute}
	const total = 1000
	prev := time.Time{}
	for p := int64(0); p < total; p++ {
		at := day.CastAt(p, total)
		if at.Before(day.Date.Add(day.Open)) || !at.Before(day.Date.Add(day.Close)) {
			t.Fatalf("position %d cast at %s, outside polling hours", p, at)
		}
		if at.Before(prev) {
			t.Fatalf("position %d cast at %s, before position %d at %s", p, at, p-1, prev)
		}
		prev = at
	}
}

func TestBirthYearAdult(t *testing.T) {
	for i := int64(0); i < 2000; i++ {
		year := birthYear("x", i, 2024)
		if age := 2024 - year; age < 18 || age > 92 {
			t.Fatalf("voter %d has age %d", i, age)
		}
	}
}

func TestDefaultDayFromSidecar(t *testing.T) {
	path := writeElection(t, "dated", trickyResults, trickyRegions)
	meta := `{"election_date":"2024-07-04","polls_open_utc":"06:00","polls_close_utc":"21:00"}`
	if err := os.WriteFile(MetaPath(path), []byte(meta), 0o644); err != nil {
		t.Fatal(err)
	}
	day, err := DefaultDay(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2024, 7, 4, 0, 0, 0, 0, time.UTC); !day.Date.Equal(want) {
		t.Errorf("Date = %s, want %s", day.Date, want)
	}
	if day.Open != 6*time.Hour || day.Close != 21*time.Hour {
		t.Errorf("polls %s to %s, want 6h to 21h", day.Open, day.Close)
	}
}

func TestBundledElectionsLoad(t *testing.T) {
	cases := []struct {
		file    string
		total   int64
		rows    int
		regions int
	}{
		{"us-vt-pres-2024.csv", 369422, 111, 14},
		{"uk-ge-2024.csv", 28809340, 4515, 650},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			e, err := Load(filepath.Join("..", "..", "infra", "elections", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if got := e.TotalVotes(); got != tc.total {
				t.Errorf("TotalVotes = %d, want %d", got, tc.total)
			}
			if len(e.Results) != tc.rows {
				t.Errorf("rows = %d, want %d", len(e.Results), tc.rows)
			}
			if len(e.Regions) != tc.regions {
				t.Errorf("regions = %d, want %d", len(e.Regions), tc.regions)
			}
		})
	}
}
