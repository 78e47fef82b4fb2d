package firehose

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// columnKind is the Arrow representation of a Hive column type.
type columnKind uint8

const (
	kindString columnKind = iota
	kindInt32
	kindInt64
	kindTimestamp
	kindFloat64
	kindBool
)

// kindOf maps a Hive type name to its columnKind. Parquet gets string as
// utf8, int as int32, bigint as int64, timestamp as timestamp in
// milliseconds (UTC), double as float64 and boolean as bool.
func kindOf(hiveType string) (columnKind, arrow.DataType, error) {
	switch strings.ToLower(hiveType) {
	case "string":
		return kindString, arrow.BinaryTypes.String, nil
	case "int":
		return kindInt32, arrow.PrimitiveTypes.Int32, nil
	case "bigint":
		return kindInt64, arrow.PrimitiveTypes.Int64, nil
	case "timestamp":
		return kindTimestamp, arrow.FixedWidthTypes.Timestamp_ms, nil
	case "double":
		return kindFloat64, arrow.PrimitiveTypes.Float64, nil
	case "boolean":
		return kindBool, arrow.FixedWidthTypes.Boolean, nil
	}
	return 0, nil, fmt.Errorf("Hive type %q is not supported locally: use string, int, bigint, timestamp, double or boolean", hiveType)
}

// converter turns records of JSON objects into rows of a Glue table, with
// the semantics of Firehose's OpenX JSON SerDe: keys match column names
// case-insensitively, keys without a column are ignored, and columns
// without a key are null.
type converter struct {
	schema *arrow.Schema
	kinds  []columnKind
	index  map[string]int // lower-case column name to position
}

func newConverter(columns []Column) (*converter, error) {
	c := &converter{index: make(map[string]int, len(columns))}
	fields := make([]arrow.Field, len(columns))
	for i, col := range columns {
		kind, typ, err := kindOf(col.Type)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", col.Name, err)
		}
		name := strings.ToLower(col.Name)
		if _, dup := c.index[name]; dup {
			return nil, fmt.Errorf("column %s appears twice", col.Name)
		}
		c.index[name] = i
		c.kinds = append(c.kinds, kind)
		fields[i] = arrow.Field{Name: col.Name, Type: typ, Nullable: true}
	}
	c.schema = arrow.NewSchema(fields, nil)
	return c, nil
}

// cell is one parsed value. Strings are byte ranges into the record data,
// or into the stage's scratch buffer when they had escapes.
type cell struct {
	valid       bool
	fromScratch bool
	start, end  int32
	n           int64 // int, bigint, bool (0 or 1), or timestamp in epoch milliseconds
	f           float64
}

// stage contains the rows of one record until the whole record has parsed, so
// that a record that fails conversion adds no row.
type stage struct {
	data    []byte
	scratch []byte
	cells   []cell
	rows    int
	keyBuf  []byte
}

func (s *stage) reset(data []byte) {
	s.data = data
	s.scratch = s.scratch[:0]
	s.cells = s.cells[:0]
	s.rows = 0
}

// parse reads every JSON object of data into s. A record may contain several
// objects, newline-separated or concatenated; an array or a primitive at
// the top level is an error, as it is for Firehose.
func (c *converter) parse(data []byte, s *stage) error {
	s.reset(data)
	p := parser{data: data}
	for {
		p.skipSpace()
		if p.pos >= len(data) {
			break
		}
		if data[p.pos] != '{' {
			return fmt.Errorf("offset %d: expected a JSON object, found %q; arrays and primitives are not accepted", p.pos, data[p.pos])
		}
		if err := c.parseObject(&p, s); err != nil {
			return fmt.Errorf("object %d: %w", s.rows+1, err)
		}
	}
	if s.rows == 0 {
		return errors.New("the record contains no JSON object")
	}
	return nil
}

func (c *converter) parseObject(p *parser, s *stage) error {
	base := len(s.cells)
	for range c.kinds {
		s.cells = append(s.cells, cell{})
	}
	row := s.cells[base:]

	p.pos++ // '{'
	p.skipSpace()
	if p.peek() == '}' {
		p.pos++
		s.rows++
		return nil
	}
	for {
		p.skipSpace()
		if p.peek() != '"' {
			return p.errorf("expected a key string")
		}
		keyStart, keyEnd, escaped, err := p.stringToken()
		if err != nil {
			return err
		}
		key := data(p, keyStart, keyEnd)
		if escaped {
			s.keyBuf, err = unescape(s.keyBuf[:0], key)
			if err != nil {
				return err
			}
			key = s.keyBuf
		}
		col, known := c.lookup(key, s)

		p.skipSpace()
		if p.peek() != ':' {
			return p.errorf("expected ':' after key %q", key)
		}
		p.pos++
		p.skipSpace()

		if !known {
			if err := p.skipValue(0); err != nil {
				return err
			}
		} else if err := c.parseValue(p, s, col, &row[col]); err != nil {
			return fmt.Errorf("column %s: %w", c.schema.Field(col).Name, err)
		}

		p.skipSpace()
		switch p.peek() {
		case ',':
			p.pos++
		case '}':
			p.pos++
			s.rows++
			return nil
		default:
			return p.errorf("expected ',' or '}'")
		}
	}
}

// lookup finds the column of a key, matching case-insensitively.
func (c *converter) lookup(key []byte, s *stage) (int, bool) {
	for _, b := range key {
		if b >= 0x80 || ('A' <= b && b <= 'Z') {
			s.keyBuf = append(s.keyBuf[:0], bytes.ToLower(key)...)
			key = s.keyBuf
			break
		}
	}
	col, ok := c.index[string(key)]
	return col, ok
}

func data(p *parser, start, end int) []byte { return p.data[start:end] }

// parseValue reads the value at p into cl, converted to the column's kind.
// A value that does not fit the column is an error.
func (c *converter) parseValue(p *parser, s *stage, col int, cl *cell) error {
	kind := c.kinds[col]
	*cl = cell{}
	switch p.peek() {
	case 'n':
		return p.literal("null")
	case 't', 'f':
		word := "false"
		if p.peek() == 't' {
			word = "true"
		}
		if err := p.literal(word); err != nil {
			return err
		}
		switch kind {
		case kindBool:
			return setFromText(kind, cl, []byte(word))
		case kindString:
			return c.setString(s, cl, []byte(word))
		}
		return fmt.Errorf("a JSON boolean does not fit a %s column", kindName(kind))
	case '"':
		start, end, escaped, err := p.stringToken()
		if err != nil {
			return err
		}
		raw := p.data[start:end]
		if kind == kindString {
			cl.valid = true
			if !escaped {
				cl.start, cl.end = int32(start), int32(end)
				return nil
			}
			from := len(s.scratch)
			s.scratch, err = unescape(s.scratch, raw)
			if err != nil {
				return err
			}
			cl.fromScratch, cl.start, cl.end = true, int32(from), int32(len(s.scratch))
			return nil
		}
		text := raw
		if escaped {
			if text, err = unescape(nil, raw); err != nil {
				return err
			}
		}
		return setFromText(kind, cl, text)
	case '{', '[':
		return fmt.Errorf("a nested JSON object or array does not fit a %s column", kindName(kind))
	}

	start := p.pos
	if err := p.numberToken(); err != nil {
		return err
	}
	number := p.data[start:p.pos]
	if kind == kindString {
		cl.valid, cl.start, cl.end = true, int32(start), int32(p.pos)
		return nil
	}
	return setFromText(kind, cl, number)
}

func (c *converter) setString(s *stage, cl *cell, text []byte) error {
	from := len(s.scratch)
	s.scratch = append(s.scratch, text...)
	cl.valid, cl.fromScratch, cl.start, cl.end = true, true, int32(from), int32(len(s.scratch))
	return nil
}

// setFromText converts a JSON number, or the text of a JSON string, to a
// non-string column.
func setFromText(kind columnKind, cl *cell, text []byte) error {
	switch kind {
	case kindInt32, kindInt64:
		n, ok := parseInt(text)
		if !ok {
			return fmt.Errorf("%q is not an integer", text)
		}
		if kind == kindInt32 && (n < math.MinInt32 || n > math.MaxInt32) {
			return fmt.Errorf("%d does not fit an int column (32 bits)", n)
		}
		cl.valid, cl.n = true, n
	case kindTimestamp:
		millis, err := parseTimestamp(text)
		if err != nil {
			return err
		}
		cl.valid, cl.n = true, millis
	case kindFloat64:
		f, err := parseFloat(text)
		if err != nil {
			return err
		}
		cl.valid, cl.f = true, f
	case kindBool:
		switch string(text) {
		case "true":
			cl.valid, cl.n = true, 1
		case "false":
			cl.valid = true
		default:
			return fmt.Errorf("%q is not true or false", text)
		}
	}
	return nil
}

func kindName(kind columnKind) string {
	return [...]string{"string", "int", "bigint", "timestamp", "double", "boolean"}[kind]
}

// appendTo adds the staged rows to b, whose schema is c.schema.
func (c *converter) appendTo(b *array.RecordBuilder, s *stage) {
	ncols := len(c.kinds)
	for col, kind := range c.kinds {
		field := b.Field(col)
		for row := 0; row < s.rows; row++ {
			cl := &s.cells[row*ncols+col]
			if !cl.valid {
				field.AppendNull()
				continue
			}
			switch kind {
			case kindString:
				src := s.data
				if cl.fromScratch {
					src = s.scratch
				}
				field.(*array.StringBuilder).BinaryBuilder.Append(src[cl.start:cl.end])
			case kindInt32:
				field.(*array.Int32Builder).Append(int32(cl.n))
			case kindInt64:
				field.(*array.Int64Builder).Append(cl.n)
			case kindTimestamp:
				field.(*array.TimestampBuilder).Append(arrow.Timestamp(cl.n))
			case kindFloat64:
				field.(*array.Float64Builder).Append(cl.f)
			case kindBool:
				field.(*array.BooleanBuilder).Append(cl.n == 1)
			}
		}
	}
}

// parser is a cursor over JSON text. It checks syntax as far as conversion
// needs; its errors give the byte offset.
type parser struct {
	data []byte
	pos  int
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("offset %d: %s", p.pos, fmt.Sprintf(format, args...))
}

func (p *parser) peek() byte {
	if p.pos < len(p.data) {
		return p.data[p.pos]
	}
	return 0
}

func (p *parser) skipSpace() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) literal(word string) error {
	if !bytes.HasPrefix(p.data[p.pos:], []byte(word)) {
		return p.errorf("invalid JSON literal")
	}
	p.pos += len(word)
	return nil
}

// stringToken reads a JSON string and returns the range of its contents,
// without the quotes, and whether it contains escapes.
func (p *parser) stringToken() (start, end int, escaped bool, err error) {
	p.pos++ // opening quote
	start = p.pos
	for p.pos < len(p.data) {
		switch b := p.data[p.pos]; {
		case b == '"':
			end = p.pos
			p.pos++
			return start, end, escaped, nil
		case b == '\\':
			escaped = true
			p.pos += 2
		case b < 0x20:
			return 0, 0, false, p.errorf("control character in a string")
		default:
			p.pos++
		}
	}
	return 0, 0, false, p.errorf("unterminated string")
}

// numberToken reads a number with the JSON grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *parser) numberToken() error {
	start := p.pos
	digits := func() int {
		from := p.pos
		for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
			p.pos++
		}
		return p.pos - from
	}
	if p.peek() == '-' {
		p.pos++
	}
	if p.peek() == '0' {
		p.pos++
	} else if digits() == 0 {
		return p.errorf("expected a JSON value")
	}
	if p.peek() == '.' {
		p.pos++
		if digits() == 0 {
			return p.errorf("invalid number %q", p.data[start:p.pos])
		}
	}
	if p.peek() == 'e' || p.peek() == 'E' {
		p.pos++
		if p.peek() == '+' || p.peek() == '-' {
			p.pos++
		}
		if digits() == 0 {
			return p.errorf("invalid number %q", p.data[start:p.pos])
		}
	}
	return nil
}

// skipValue skips one JSON value of any type.
func (p *parser) skipValue(depth int) error {
	if depth > 64 {
		return p.errorf("JSON nested deeper than 64 levels")
	}
	switch p.peek() {
	case '"':
		_, _, _, err := p.stringToken()
		return err
	case 'n':
		return p.literal("null")
	case 't':
		return p.literal("true")
	case 'f':
		return p.literal("false")
	case '{', '[':
		closer := byte('}')
		if p.peek() == '[' {
			closer = ']'
		}
		p.pos++
		p.skipSpace()
		if p.peek() == closer {
			p.pos++
			return nil
		}
		for {
			p.skipSpace()
			if closer == '}' {
				if p.peek() != '"' {
					return p.errorf("expected a key string")
				}
				if _, _, _, err := p.stringToken(); err != nil {
					return err
				}
				p.skipSpace()
				if p.peek() != ':' {
					return p.errorf("expected ':'")
				}
				p.pos++
				p.skipSpace()
			}
			if err := p.skipValue(depth + 1); err != nil {
				return err
			}
			p.skipSpace()
			switch p.peek() {
			case ',':
				p.pos++
			case closer:
				p.pos++
				return nil
			default:
				return p.errorf("expected ',' or %q", closer)
			}
		}
	}
	return p.numberToken()
}

// unescape appends the decoded contents of a JSON string to dst.
func unescape(dst, raw []byte) ([]byte, error) {
	for i := 0; i < len(raw); i++ {
		b := raw[i]
		if b != '\\' {
			dst = append(dst, b)
			continue
		}
		i++
		if i >= len(raw) {
			return nil, errors.New("string ends in a backslash")
		}
		switch raw[i] {
		case '"', '\\', '/':
			dst = append(dst, raw[i])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, n, err := unicodeEscape(raw[i+1:])
			if err != nil {
				return nil, err
			}
			dst = utf8.AppendRune(dst, r)
			i += n
		default:
			return nil, fmt.Errorf("invalid escape \\%c in a string", raw[i])
		}
	}
	return dst, nil
}

// unicodeEscape decodes the hex digits after \u, and a following low
// surrogate escape, returning the rune and how many bytes it used.
func unicodeEscape(b []byte) (rune, int, error) {
	hex := func(b []byte) (rune, bool) {
		if len(b) < 4 {
			return 0, false
		}
		var r rune
		for _, c := range b[:4] {
			r <<= 4
			switch {
			case '0' <= c && c <= '9':
				r |= rune(c - '0')
			case 'a' <= c && c <= 'f':
				r |= rune(c - 'a' + 10)
			case 'A' <= c && c <= 'F':
				r |= rune(c - 'A' + 10)
			default:
				return 0, false
			}
		}
		return r, true
	}
	r, ok := hex(b)
	if !ok {
		return 0, 0, errors.New("invalid \\u escape in a string")
	}
	if utf16.IsSurrogate(r) && len(b) >= 10 && b[4] == '\\' && b[5] == 'u' {
		if low, ok := hex(b[6:]); ok {
			if combined := utf16.DecodeRune(r, low); combined != utf8.RuneError {
				return combined, 10, nil
			}
		}
	}
	if utf16.IsSurrogate(r) {
		r = utf8.RuneError
	}
	return r, 4, nil
}

// parseInt parses a decimal integer without allocating.
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	negative := b[0] == '-'
	if negative {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if negative {
		if n > 1<<63 {
			return 0, false
		}
		return -int64(n), true
	}
	if n > math.MaxInt64 {
		return 0, false
	}
	return int64(n), true
}

func parseFloat(b []byte) (float64, error) {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", b)
	}
	return f, nil
}
