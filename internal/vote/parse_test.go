package vote

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

const plainBallot = `{"vote_id":"5b0f8c1e-3c55-4e0b-9a63-6f1d6b0c7a10","election_id":"uk-ge-2024","voter_id":"12345678","candidate_id":"1234","cast_at":"2024-07-04T14:03:00.000Z","channel":"in_person"}`

// parseSeeds are values that take each branch of parsePlainVote and of the
// fallback to json.Unmarshal.
var parseSeeds = []string{
	plainBallot,
	" \t\r\n" + plainBallot + "\n ",
	`{ "vote_id" : "a" , "election_id":"e","voter_id":"1","candidate_id":"2","cast_at":"2024-11-05T14:03:00Z","channel":"postal" }`,
	`{"vote_id":"a","vote_id":"b","election_id":"e","voter_id":"1","candidate_id":"2","cast_at":"2024-11-05T14:03:00Z","channel":"early"}`,
	`{"vote_id":"a","note":"Áine","election_id":"e","voter_id":"1","candidate_id":"2","cast_at":"2024-11-05T14:03:00Z","channel":"early"}`,
	`{"VOTE_ID":"a","election_id":"e","voter_id":"1","candidate_id":"2","cast_at":"2024-11-05T14:03:00Z","channel":"early"}`,
	"{\"vote_\u212aid\":\"a\"}",
	`{"vote_id":"a\"b","election_id":"e"}`,
	`{"vote_id":"a\u0041","election_id":"e"}`,
	`{"vote_id":null,"election_id":"e"}`,
	`{"vote_id":7}`,
	`{"extra":[1,{"x":2}],"vote_id":"a"}`,
	`{}`,
	` {} `,
	`null`,
	`[]`,
	`"vote"`,
	``,
	`{`,
	`{"vote_id"`,
	`{"vote_id":"a"`,
	`{"vote_id":"a",}`,
	`{"vote_id":"a"}}`,
	`{"vote_id":"a"} x`,
	`{"vote_id" "a"}`,
	`{"vote_id":"a" "b"}`,
	"{\"vote_id\":\"a\tb\"}",
	"{\"vote_id\":\"a\xffb\"}",
}

// parseReference is ParseVote without the single-pass path.
func parseReference(value []byte) (Vote, error) {
	var v Vote
	if err := json.Unmarshal(value, &v); err != nil {
		return Vote{}, err
	}
	return v, nil
}

func TestParseVoteMatchesUnmarshal(t *testing.T) {
	for _, seed := range parseSeeds {
		checkSameAsUnmarshal(t, []byte(seed))
	}
}

func FuzzParseVote(f *testing.F) {
	for _, seed := range parseSeeds {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, value []byte) {
		checkSameAsUnmarshal(t, value)
	})
}

// checkSameAsUnmarshal fails t when ParseVote and json.Unmarshal disagree on
// value: on the decoded fields, on whether the value decodes at all, or on
// the validation error.
func checkSameAsUnmarshal(t *testing.T, value []byte) {
	t.Helper()
	got, gotErr := ParseVote(value)
	want, wantErr := parseReference(value)

	// parsePlainVote requires UTF-8, as ParseVote checks before calling it.
	var plain Vote
	tookPlainPath := utf8.Valid(value) && parsePlainVote(value, &plain)
	if tookPlainPath && wantErr != nil {
		t.Fatalf("parsePlainVote accepted %q, which json.Unmarshal rejects: %v", value, wantErr)
	}
	if tookPlainPath && plain != want {
		t.Fatalf("parsePlainVote(%q) = %+v, json.Unmarshal = %+v", value, plain, want)
	}

	switch {
	case wantErr != nil || !utf8.Valid(value):
		if gotErr == nil {
			t.Fatalf("ParseVote(%q) accepted a value that json.Unmarshal rejects or that is not UTF-8", value)
		}
	case gotErr == nil && want.Validate() != nil:
		t.Fatalf("ParseVote(%q) accepted %+v, which Validate rejects", value, want)
	case gotErr != nil && gotErr.Error() != errorText(want.Validate()):
		t.Fatalf("ParseVote(%q) error %q, want %q", value, gotErr, errorText(want.Validate()))
	case got != want:
		t.Fatalf("ParseVote(%q) = %+v, json.Unmarshal = %+v", value, got, want)
	}
}

func errorText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func TestParsePlainVotePaths(t *testing.T) {
	cases := []struct {
		value string
		plain bool
	}{
		{plainBallot, true},
		{`{}`, true},
		{`{"note":"Áine","vote_id":"a"}`, true},
		{`{"vote_id":"a\"b"}`, false},
		{`{"VOTE_ID":"a"}`, false},
		{`{"vote_id":7}`, false},
		{`{"vote_id":"a"} x`, false},
	}
	for _, tc := range cases {
		var v Vote
		if got := parsePlainVote([]byte(tc.value), &v); got != tc.plain {
			t.Errorf("parsePlainVote(%s) = %v, want %v", tc.value, got, tc.plain)
		}
	}
}

func TestParseVoteErrors(t *testing.T) {
	cases := []struct {
		name, value, want string
	}{
		{"not UTF-8", "{\"vote_id\":\"\xff\"}", "value is not valid UTF-8"},
		{"not JSON", `{"vote_id":`, "value is not a JSON vote object"},
		{"missing field", `{"vote_id":"a","election_id":"e","candidate_id":"2","cast_at":"2024-11-05T14:03:00Z","channel":"early"}`, `required field "voter_id" is missing or empty`},
		{"offset cast time", `{"vote_id":"a","election_id":"e","voter_id":"1","candidate_id":"2","cast_at":"2024-11-05T14:03:00+01:00","channel":"early"}`, "is not in UTC"},
		{"unknown channel", `{"vote_id":"a","election_id":"e","voter_id":"1","candidate_id":"2","cast_at":"2024-11-05T14:03:00Z","channel":"booth"}`, `channel "booth" is invalid`},
	}
	for _, tc := range cases {
		_, err := ParseVote([]byte(tc.value))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: ParseVote error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

func BenchmarkParseVote(b *testing.B) {
	raw := []byte(plainBallot)
	for b.Loop() {
		ParseVote(raw)
	}
}

func BenchmarkParseVoteUnmarshal(b *testing.B) {
	raw := []byte(plainBallot)
	for b.Loop() {
		var v Vote
		json.Unmarshal(raw, &v)
		v.Validate()
	}
}
