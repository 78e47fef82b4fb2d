// Package election reads official election results and turns them into the
// ballots, voters and candidates that votestream replays.
//
// An election is two CSV files. The results file has the columns
// region_code,region_name,candidate,party,votes with one row per region and
// candidate. The regions file beside it, named <name>.regions.csv, has at least
// region_code,region_name and optionally registered_voters, ballots_cast and
// valid_votes. Column order is free; extra columns are ignored.
package election

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Result is one row of a results file: the votes of one candidate in one region.
type Result struct {
	RegionCode string
	RegionName string
	Candidate  string
	Party      string
	Votes      int64
	// CandidateID is the id of (Candidate, Party) in Election.Candidates.
	CandidateID string
}

// Region is one row of a regions file.
type Region struct {
	Code string
	Name string
	// RegisteredVoters, BallotsCast and ValidVotes are -1 where the file leaves them blank.
	RegisteredVoters int64
	BallotsCast      int64
	ValidVotes       int64
}

// Candidate is a distinct (name, party) pair of an election. The same pair in
// several regions is one candidate, as for a presidential race; two candidates
// of the same name in one region differ by party.
type Candidate struct {
	ID    string
	Name  string
	Party string
}

// Election is a loaded pair of results and regions files.
type Election struct {
	// ID is the results file name without .csv, such as us-vt-pres-2024.
	ID         string
	Path       string
	Results    []Result
	Regions    []Region
	Candidates []Candidate
}

// RegionsPath returns the path of the regions file that belongs to a results file.
func RegionsPath(resultsPath string) string {
	return strings.TrimSuffix(resultsPath, ".csv") + ".regions.csv"
}

// Load reads the results file at path and the regions file beside it.
// A missing regions file is not an error: the regions then come from the
// results file, with registration and turnout unknown.
func Load(path string) (*Election, error) {
	if !strings.HasSuffix(path, ".csv") {
		return nil, fmt.Errorf("election file %q: the name must end in .csv", path)
	}
	e := &Election{ID: strings.TrimSuffix(filepath.Base(path), ".csv"), Path: path}
	if err := ValidateID(e.ID); err != nil {
		return nil, fmt.Errorf("election file %q: %w", path, err)
	}

	results, err := readResults(path)
	if err != nil {
		return nil, err
	}
	e.Results = results
	e.assignCandidates()

	regionsPath := RegionsPath(path)
	regions, err := readRegions(regionsPath)
	switch {
	case errors.Is(err, os.ErrNotExist):
		e.Regions = regionsFromResults(results)
	case err != nil:
		return nil, err
	default:
		e.Regions = regions
	}
	if err := e.check(regionsPath); err != nil {
		return nil, err
	}
	return e, nil
}

// ValidateID reports whether id can name an election: it becomes a Kafka key
// part, a database value and an S3 prefix, so it is limited to letters, digits,
// '-', '_' and '.'.
func ValidateID(id string) error {
	if id == "" || len(id) > 128 {
		return fmt.Errorf("election id %q must have 1 to 128 characters", id)
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
		if !ok {
			return fmt.Errorf("election id %q contains %q: rename the file to use only letters, digits, '-', '_' and '.'", id, r)
		}
	}
	return nil
}

// TotalVotes returns the number of votes in all results, which is the number of
// ballots a replay produces.
func (e *Election) TotalVotes() int64 {
	var total int64
	for _, r := range e.Results {
		total += r.Votes
	}
	return total
}

// Region returns the region with the given code.
func (e *Election) Region(code string) (Region, bool) {
	for _, r := range e.Regions {
		if r.Code == code {
			return r, true
		}
	}
	return Region{}, false
}

func (e *Election) assignCandidates() {
	ids := make(map[[2]string]string)
	for i := range e.Results {
		r := &e.Results[i]
		key := [2]string{r.Candidate, r.Party}
		id, ok := ids[key]
		if !ok {
			id = strconv.Itoa(len(ids) + 1)
			ids[key] = id
			e.Candidates = append(e.Candidates, Candidate{ID: id, Name: r.Candidate, Party: r.Party})
		}
		r.CandidateID = id
	}
}

// check enforces the invariants that a replay relies on: unique row keys,
// every result in a known region, and per-region sums equal to valid_votes.
func (e *Election) check(regionsPath string) error {
	known := make(map[string]int64, len(e.Regions))
	for _, r := range e.Regions {
		if _, dup := known[r.Code]; dup {
			return fmt.Errorf("%s: region_code %q appears twice: keep one row per region", regionsPath, r.Code)
		}
		known[r.Code] = 0
	}

	seen := make(map[[3]string]bool, len(e.Results))
	for _, r := range e.Results {
		key := [3]string{r.RegionCode, r.Candidate, r.Party}
		if seen[key] {
			return fmt.Errorf("%s: region %q, candidate %q, party %q appears twice: merge the rows", e.Path, r.RegionCode, r.Candidate, r.Party)
		}
		seen[key] = true
		if _, ok := known[r.RegionCode]; !ok {
			return fmt.Errorf("%s: region_code %q is not in %s: add the region there", e.Path, r.RegionCode, regionsPath)
		}
		known[r.RegionCode] += r.Votes
	}

	for _, r := range e.Regions {
		if r.ValidVotes >= 0 && known[r.Code] != r.ValidVotes {
			return fmt.Errorf("%s: region %q has valid_votes %d but its results add up to %d: correct one of the files",
				regionsPath, r.Code, r.ValidVotes, known[r.Code])
		}
	}
	return nil
}

func regionsFromResults(results []Result) []Region {
	var regions []Region
	seen := make(map[string]bool)
	for _, r := range results {
		if seen[r.RegionCode] {
			continue
		}
		seen[r.RegionCode] = true
		regions = append(regions, Region{Code: r.RegionCode, Name: r.RegionName, RegisteredVoters: -1, BallotsCast: -1, ValidVotes: -1})
	}
	return regions
}

// table is a CSV file read into a header index and rows.
type table struct {
	path    string
	columns map[string]int
	rows    [][]string
	// lines holds the line number of each row, for error messages.
	lines []int
}

func readTable(path string, required []string) (*table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open election file: %w", err)
	}
	defer f.Close()

	r := csv.NewReader(f)
	r.ReuseRecord = false
	header, err := r.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: the file is empty: the first line must be a header with %s", path, strings.Join(required, ","))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: read header: %w", path, err)
	}

	t := &table{path: path, columns: make(map[string]int)}
	for i, name := range header {
		name = strings.TrimSpace(strings.TrimPrefix(name, "\ufeff"))
		t.columns[strings.ToLower(name)] = i
	}
	for _, name := range required {
		if _, ok := t.columns[name]; !ok {
			return nil, fmt.Errorf("%s: header has no column %q: the header must include %s", path, name, strings.Join(required, ","))
		}
	}

	for {
		record, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		line, _ := r.FieldPos(0)
		for i, field := range record {
			if !utf8.ValidString(field) {
				return nil, fmt.Errorf("%s:%d: column %d is not valid UTF-8: save the file as UTF-8", path, line, i+1)
			}
		}
		t.rows = append(t.rows, record)
		t.lines = append(t.lines, line)
	}
	return t, nil
}

func (t *table) field(row int, name string) string {
	i, ok := t.columns[name]
	if !ok || i >= len(t.rows[row]) {
		return ""
	}
	return strings.TrimSpace(t.rows[row][i])
}

// count parses an optional non-negative integer column; blank gives -1.
func (t *table) count(row int, name string, required bool) (int64, error) {
	s := t.field(row, name)
	if s == "" && !required {
		return -1, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s:%d: %s %q is not a whole number of 0 or more", t.path, t.lines[row], name, s)
	}
	return n, nil
}

func readResults(path string) ([]Result, error) {
	t, err := readTable(path, []string{"region_code", "region_name", "candidate", "party", "votes"})
	if err != nil {
		return nil, err
	}
	results := make([]Result, 0, len(t.rows))
	for i := range t.rows {
		votes, err := t.count(i, "votes", true)
		if err != nil {
			return nil, err
		}
		r := Result{
			RegionCode: t.field(i, "region_code"),
			RegionName: t.field(i, "region_name"),
			Candidate:  t.field(i, "candidate"),
			Party:      t.field(i, "party"),
			Votes:      votes,
		}
		if r.RegionCode == "" || r.Candidate == "" {
			return nil, fmt.Errorf("%s:%d: region_code and candidate must not be empty", path, t.lines[i])
		}
		results = append(results, r)
	}
	return results, nil
}

func readRegions(path string) ([]Region, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	t, err := readTable(path, []string{"region_code", "region_name"})
	if err != nil {
		return nil, err
	}
	regions := make([]Region, 0, len(t.rows))
	for i := range t.rows {
		r := Region{Code: t.field(i, "region_code"), Name: t.field(i, "region_name")}
		if r.Code == "" {
			return nil, fmt.Errorf("%s:%d: region_code must not be empty", path, t.lines[i])
		}
		if r.RegisteredVoters, err = t.count(i, "registered_voters", false); err != nil {
			return nil, err
		}
		if r.BallotsCast, err = t.count(i, "ballots_cast", false); err != nil {
			return nil, err
		}
		if r.ValidVotes, err = t.count(i, "valid_votes", false); err != nil {
			return nil, err
		}
		regions = append(regions, r)
	}
	return regions, nil
}
