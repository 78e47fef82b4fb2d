package query

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/votestream/votestream/glue"
	"github.com/votestream/votestream/internal/election"
)

// Statement is the SQL that one query runs.
type Statement struct {
	// SQL is the text sent to the engine.
	SQL string
	// View is the view or table that a bare name selected, empty for SQL
	// given in full.
	View string
	// Limit is the largest number of rows to return; 0 returns all. A view's
	// SQL also carries it as LIMIT, other SQL is cut after Limit rows.
	Limit int
}

// ErrUnknownView is returned by Build for a bare name that is no view or table.
var ErrUnknownView = errors.New("unknown view")

// identifier matches a bare name, which Build takes as a view or table.
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Names returns the views of glue.Views and the tables they read, sorted.
func Names() []string {
	names := []string{glue.VotesTable, glue.RegionsTable}
	for _, v := range glue.Views {
		names = append(names, v.Name)
	}
	sort.Strings(names)
	return names
}

// Build turns the argument of votestream query into a Statement. A bare name
// selects every row of that view or table, filtered to electionID when it is
// not empty and sorted by the view's OrderBy. Anything else runs as SQL;
// electionID must then be empty, because the filter cannot be placed into
// arbitrary SQL.
func Build(target, electionID string, limit int) (Statement, error) {
	target = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(target), ";"))
	if target == "" {
		return Statement{}, errors.New("missing view name or SQL")
	}
	if limit < 0 {
		return Statement{}, fmt.Errorf("limit %d is negative: use 0 for all rows", limit)
	}

	if !identifier.MatchString(target) {
		if electionID != "" {
			return Statement{}, errors.New("an election filter applies only to a view name: write the WHERE election_id = '…' into the SQL")
		}
		return Statement{SQL: target, Limit: limit}, nil
	}

	name := strings.ToLower(target)
	orderBy, ok := "", false
	for _, v := range glue.Views {
		if v.Name == name {
			orderBy, ok = v.OrderBy, true
		}
	}
	if name == glue.VotesTable || name == glue.RegionsTable {
		ok = true
	}
	if !ok {
		return Statement{}, fmt.Errorf("%w %q: use one of %s, or a SELECT statement", ErrUnknownView, target, strings.Join(Names(), ", "))
	}

	var sql strings.Builder
	sql.WriteString("SELECT * FROM " + name)
	if electionID != "" {
		if err := election.ValidateID(electionID); err != nil {
			return Statement{}, err
		}
		sql.WriteString(" WHERE election_id = '" + electionID + "'")
	}
	if orderBy != "" {
		sql.WriteString(" ORDER BY " + orderBy)
	}
	if limit > 0 {
		fmt.Fprintf(&sql, " LIMIT %d", limit)
	}
	return Statement{SQL: sql.String(), View: name, Limit: limit}, nil
}
