package query

import (
	"strings"
)

// Column is one column of a Result.
type Column struct {
	Name string
	// Type is the engine's type name in lower case, such as bigint, varchar,
	// double or timestamp(3). It decides how JSON writes the column's cells.
	Type string
}

// Cell is one value of a Result as text. Null marks SQL NULL, whose Text
// is empty.
type Cell struct {
	Text string
	Null bool
}

// Result is the outcome of one Statement.
type Result struct {
	Columns []Column
	Rows    [][]Cell
	// Truncated reports that the engine had more rows than Statement.Limit.
	// It is only known for SQL cut by the client; a view's LIMIT leaves it false.
	Truncated bool
}

// valueKind is the JSON type of a column's cells.
type valueKind int

const (
	kindString valueKind = iota
	kindNumber
	kindBool
)

// numericTypes are the type names, without precision, of DuckDB and Trino
// columns whose cells JSON writes as numbers.
var numericTypes = map[string]bool{
	"tinyint": true, "smallint": true, "integer": true, "int": true, "bigint": true, "hugeint": true,
	"utinyint": true, "usmallint": true, "uinteger": true, "ubigint": true, "uhugeint": true,
	"real": true, "float": true, "double": true, "decimal": true,
}

func kindOf(typeName string) valueKind {
	base, _, _ := strings.Cut(strings.ToLower(typeName), "(")
	switch {
	case numericTypes[strings.TrimSpace(base)]:
		return kindNumber
	case base == "boolean":
		return kindBool
	default:
		return kindString
	}
}
