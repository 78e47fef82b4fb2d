package glue

import (
	"fmt"
	"regexp"
	"strings"
)

// duckDBRewrite is one mechanical rewrite from Trino SQL to DuckDB SQL.
type duckDBRewrite struct {
	pattern     *regexp.Regexp
	replacement string
	why         string
}

// duckDBRewrites lists every place where the views' Trino SQL means
// something else in DuckDB. Views keep to constructs that both engines read
// alike, apart from these.
var duckDBRewrites = []duckDBRewrite{
	{
		pattern:     regexp.MustCompile(`\b(minute|hour|second)\(([a-z_]+)\) / ([0-9]+)`),
		replacement: "$1($2) // $3",
		why:         "Trino divides integers with / and truncates, DuckDB's / returns a double and // truncates",
	},
}

// ForDuckDB translates the Trino SQL of a view into the SQL that the local
// engine runs.
func ForDuckDB(trinoSQL string) string {
	for _, r := range duckDBRewrites {
		trinoSQL = r.pattern.ReplaceAllString(trinoSQL, r.replacement)
	}
	return trinoSQL
}

// AthenaViewDDL returns one CREATE OR REPLACE VIEW statement per view, in
// dependency order, for the Athena database that holds the votes table.
// Athena runs one statement per query, so each must be submitted on its own.
func AthenaViewDDL(database string) []string {
	statements := make([]string, 0, len(Views))
	for _, v := range Views {
		statements = append(statements, fmt.Sprintf("CREATE OR REPLACE VIEW %s.%s AS\n-- %s\n%s",
			quoteIdentifier(database), quoteIdentifier(v.Name), strings.ReplaceAll(v.Comment, "\n", " "), v.SQL))
	}
	return statements
}

// quoteIdentifier quotes a Trino identifier with double quotes.
func quoteIdentifier(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}
