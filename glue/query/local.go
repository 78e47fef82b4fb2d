package query

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// TimestampLayout is the text form of timestamps in a Result. It is Athena's
// GetQueryResults form of timestamp(3), and RunLocal formats DuckDB's to match.
const TimestampLayout = "2006-01-02 15:04:05.000"

// RunLocal runs stmt on db, the DuckDB of a glue/lake Lake.
func RunLocal(ctx context.Context, db *sql.DB, stmt Statement) (*Result, error) {
	rows, err := db.QueryContext(ctx, stmt.SQL)
	if err != nil {
		return nil, fmt.Errorf("run query on the local lake: %w", err)
	}
	defer rows.Close()

	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, fmt.Errorf("read result columns: %w", err)
	}
	r := &Result{Columns: make([]Column, len(types))}
	for i, t := range types {
		r.Columns[i] = Column{Name: t.Name(), Type: strings.ToLower(t.DatabaseTypeName())}
	}

	values := make([]any, len(types))
	dest := make([]any, len(types))
	for i := range values {
		dest[i] = &values[i]
	}
	for rows.Next() {
		if stmt.Limit > 0 && len(r.Rows) == stmt.Limit {
			r.Truncated = true
			break
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("read result row %d: %w", len(r.Rows)+1, err)
		}
		row := make([]Cell, len(values))
		for i, v := range values {
			row[i] = localCell(v, r.Columns[i].Type)
		}
		r.Rows = append(r.Rows, row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read result rows: %w", err)
	}
	return r, nil
}

// localCell formats a value that the DuckDB driver scanned into an any from
// a column of type typeName.
func localCell(v any, typeName string) Cell {
	switch v := v.(type) {
	case nil:
		return Cell{Null: true}
	case string:
		return Cell{Text: v}
	case []byte:
		return Cell{Text: string(v)}
	case float64:
		return Cell{Text: strconv.FormatFloat(v, 'g', -1, 64)}
	case float32:
		return Cell{Text: strconv.FormatFloat(float64(v), 'g', -1, 32)}
	case time.Time:
		if typeName == "date" {
			return Cell{Text: v.UTC().Format(time.DateOnly)}
		}
		return Cell{Text: v.UTC().Format(TimestampLayout)}
	default:
		// Integers, booleans, HUGEINT as *big.Int, DECIMAL and UUID print
		// their values with fmt.
		return Cell{Text: fmt.Sprint(v)}
	}
}
