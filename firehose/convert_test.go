package firehose

import (
	"strings"
	"testing"
	"time"
)

func TestParseTimestamp(t *testing.T) {
	at := func(s string) int64 {
		t.Helper()
		ts, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return ts.UnixMilli()
	}
	cases := []struct {
		input string
		want  int64
	}{
		{"2024-11-05T14:03:07Z", at("2024-11-05T14:03:07Z")},
		{"2024-11-05T14:03:07.1Z", at("2024-11-05T14:03:07.100Z")},
		{"2024-11-05T14:03:07.123Z", at("2024-11-05T14:03:07.123Z")},
		{"2024-11-05T14:03:07.123456789Z", at("2024-11-05T14:03:07.123Z")},
		{"2024-11-05 14:03:07", at("2024-11-05T14:03:07Z")},
		{"2024-11-05 14:03:07.5", at("2024-11-05T14:03:07.500Z")},
		{"2024-1-5 14:03:07", at("2024-01-05T14:03:07Z")},
		{"2024-02-29 00:00:00", at("2024-02-29T00:00:00Z")},
		{"1969-12-31T23:59:59.999Z", -1},
		{"1730815387", at("2024-11-05T14:03:07Z")},
		{"1730815387123", at("2024-11-05T14:03:07.123Z")},
	}
	for _, c := range cases {
		got, err := parseTimestamp([]byte(c.input))
		if err != nil {
			t.Errorf("parseTimestamp(%q): %v", c.input, err)
			continue
		}
		if got != c.want {
			t.Errorf("parseTimestamp(%q) = %d, want %d", c.input, got, c.want)
		}
	}
}

func TestParseTimestampRejects(t *testing.T) {
	cases := []struct {
		input string
		want  string
	}{
		{"2024-11-05T14:03:07+01:00", "numeric UTC offset"},
		{"2024-11-05T14:03:07.000-05:00", "numeric UTC offset"},
		{"2024-11-05T14:03:07.000+0000", "numeric UTC offset"},
		{"2024-11-05T14:03:07", "invalid"},
		{"2024-1-5T14:03:07Z", "invalid"},
		{"2024-11-05 14:03:07Z", "invalid"},
		{"2024-11-05", "invalid"},
		{"2023-02-29 00:00:00", "out of range"},
		{"2024-11-05T24:00:00Z", "out of range"},
		{"2024-11-05T14:03:07.Z", "invalid"},
		{"yesterday", "invalid"},
		{"", "invalid"},
	}
	for _, c := range cases {
		_, err := parseTimestamp([]byte(c.input))
		if err == nil {
			t.Errorf("parseTimestamp(%q) succeeded, want an error", c.input)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("parseTimestamp(%q) error %q does not mention %q", c.input, err, c.want)
		}
	}
}

var testColumns = []Column{
	{"name", "string"},
	{"n", "int"},
	{"big", "bigint"},
	{"at", "timestamp"},
	{"score", "double"},
	{"ok", "boolean"},
}

func TestConverterParse(t *testing.T) {
	conv, err := newConverter(testColumns)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		input string
		rows  int
	}{
		{"one object", `{"name":"a","n":1}`, 1},
		{"newline-separated", "{\"name\":\"a\"}\n{\"name\":\"b\"}\n", 2},
		{"concatenated", `{"name":"a"}{"name":"b"}{"name":"c"}`, 3},
		{"keys in upper case", `{"NAME":"a","N":2,"Big":3}`, 1},
		{"unknown keys and nested values ignored", `{"name":"a","extra":{"x":[1,{"y":null}]},"more":[true]}`, 1},
		{"nulls", `{"name":null,"n":null,"at":null}`, 1},
		{"number into string column", `{"name":12.5}`, 1},
		{"escapes", `{"name":"a\"b\\c\u00e9\ud83d\ude00"}`, 1},
		{"empty object", `{}`, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s stage
			if err := conv.parse([]byte(c.input), &s); err != nil {
				t.Fatalf("parse: %v", err)
			}
			if s.rows != c.rows {
				t.Errorf("rows = %d, want %d", s.rows, c.rows)
			}
		})
	}
}

func TestConverterParseRejects(t *testing.T) {
	conv, err := newConverter(testColumns)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		input string
		want  string
	}{
		{"array", `[{"name":"a"},{"name":"b"}]`, "arrays and primitives"},
		{"primitive", `42`, "arrays and primitives"},
		{"empty record", "  \n", "no JSON object"},
		{"int overflow", `{"n":2147483648}`, "does not fit an int column"},
		{"fraction in int", `{"n":1.5}`, "not an integer"},
		{"bool in bigint", `{"big":true}`, "boolean does not fit a bigint"},
		{"object in string", `{"name":{"a":1}}`, "nested JSON object"},
		{"offset timestamp", `{"at":"2024-11-05T14:03:07+01:00"}`, "numeric UTC offset"},
		{"truncated", `{"name":"a"`, "expected ',' or '}'"},
		{"second object broken", "{\"name\":\"a\"}\n{\"name\":", "object 2"},
		{"invalid number", `{"n":01}`, "expected ',' or '}'"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s stage
			err := conv.parse([]byte(c.input), &s)
			if err == nil {
				t.Fatalf("parse(%q) succeeded, want an error", c.input)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %q", err, c.want)
			}
		})
	}
}
