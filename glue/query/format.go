package query

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Format is the output format of Write.
type Format string

// Formats of Write.
const (
	// FormatTable is aligned columns with a header, NULL for SQL NULL,
	// numbers right-aligned, and a row count last.
	FormatTable Format = "table"
	// FormatCSV is RFC 4180 CSV with a header row; NULL is an empty field.
	FormatCSV Format = "csv"
	// FormatJSON is one JSON array of objects whose keys are the column names
	// in column order; numbers and booleans keep their JSON types.
	FormatJSON Format = "json"
)

// ParseFormat returns the Format named s.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case FormatTable, FormatCSV, FormatJSON:
		return f, nil
	}
	return "", fmt.Errorf("format %q is invalid: use table, csv or json", s)
}

// Write prints r to w in format f.
func Write(w io.Writer, r *Result, f Format) error {
	bw := bufio.NewWriter(w)
	var err error
	switch f {
	case FormatTable:
		err = writeTable(bw, r)
	case FormatCSV:
		err = writeCSV(bw, r)
	case FormatJSON:
		err = writeJSON(bw, r)
	default:
		return fmt.Errorf("format %q is invalid: use table, csv or json", f)
	}
	if err != nil {
		return err
	}
	return bw.Flush()
}

func writeTable(w *bufio.Writer, r *Result) error {
	widths := make([]int, len(r.Columns))
	rightAlign := make([]bool, len(r.Columns))
	for i, c := range r.Columns {
		widths[i] = utf8.RuneCountInString(c.Name)
		rightAlign[i] = kindOf(c.Type) == kindNumber
	}
	text := func(c Cell) string {
		if c.Null {
			return "NULL"
		}
		return c.Text
	}
	for _, row := range r.Rows {
		for i, c := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(text(c)))
		}
	}

	line := func(cells []string) {
		for i, s := range cells {
			if i > 0 {
				w.WriteString("  ")
			}
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(s))
			switch {
			case rightAlign[i]:
				w.WriteString(pad + s)
			case i == len(cells)-1:
				w.WriteString(s)
			default:
				w.WriteString(s + pad)
			}
		}
		w.WriteString("\n")
	}
	header := make([]string, len(r.Columns))
	rule := make([]string, len(r.Columns))
	for i, c := range r.Columns {
		header[i] = c.Name
		rule[i] = strings.Repeat("-", widths[i])
	}
	line(header)
	line(rule)
	cells := make([]string, len(r.Columns))
	for _, row := range r.Rows {
		for i, c := range row {
			cells[i] = text(c)
		}
		line(cells)
	}

	noun := "rows"
	if len(r.Rows) == 1 {
		noun = "row"
	}
	if r.Truncated {
		fmt.Fprintf(w, "(%d %s shown; the query returned more, raise --limit to see them)\n", len(r.Rows), noun)
	} else {
		fmt.Fprintf(w, "(%d %s)\n", len(r.Rows), noun)
	}
	return nil
}

func writeCSV(w *bufio.Writer, r *Result) error {
	cw := csv.NewWriter(w)
	record := make([]string, len(r.Columns))
	for i, c := range r.Columns {
		record[i] = c.Name
	}
	if err := cw.Write(record); err != nil {
		return err
	}
	for _, row := range r.Rows {
		for i, c := range row {
			record[i] = c.Text
		}
		if err := cw.Write(record); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func writeJSON(w *bufio.Writer, r *Result) error {
	keys := make([][]byte, len(r.Columns))
	kinds := make([]valueKind, len(r.Columns))
	for i, c := range r.Columns {
		k, err := json.Marshal(c.Name)
		if err != nil {
			return err
		}
		keys[i], kinds[i] = k, kindOf(c.Type)
	}

	w.WriteString("[")
	for n, row := range r.Rows {
		if n > 0 {
			w.WriteString(",")
		}
		w.WriteString("\n{")
		for i, c := range row {
			if i > 0 {
				w.WriteString(",")
			}
			w.Write(keys[i])
			w.WriteString(":")
			v, err := jsonValue(c, kinds[i])
			if err != nil {
				return fmt.Errorf("column %s, row %d: %w", r.Columns[i].Name, n+1, err)
			}
			w.Write(v)
		}
		w.WriteString("}")
	}
	w.WriteString("\n]\n")
	return nil
}

// jsonValue encodes one cell. A number that JSON cannot hold (NaN, Infinity)
// or a boolean in an unexpected spelling is written as a string.
func jsonValue(c Cell, kind valueKind) ([]byte, error) {
	if c.Null {
		return []byte("null"), nil
	}
	switch kind {
	case kindNumber:
		if f, err := strconv.ParseFloat(c.Text, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) && json.Valid([]byte(c.Text)) {
			return []byte(c.Text), nil
		}
	case kindBool:
		if c.Text == "true" || c.Text == "false" {
			return []byte(c.Text), nil
		}
	}
	return json.Marshal(c.Text)
}
