package vote

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/votestream/votestream/internal/jsonscan"
)

// ParseVote decodes and checks a votes_topic value. The error names the field
// that is missing or invalid, so that a dead-letter reason can be acted on.
//
// Ballots as producers write them, one JSON object of strings without escape
// sequences, take a single-pass path that allocates once. Every other value
// goes through json.Unmarshal, and both paths return the same Vote.
func ParseVote(value []byte) (Vote, error) {
	if !utf8.Valid(value) {
		return Vote{}, fmt.Errorf("value is not valid UTF-8")
	}
	var v Vote
	if !parsePlainVote(value, &v) {
		decoded, err := unmarshalVote(value)
		if err != nil {
			return Vote{}, err
		}
		v = decoded
	}
	return v, v.Validate()
}

// unmarshalVote decodes value with json.Unmarshal. It is apart from
// ParseVote so that only this path moves its Vote to the heap.
func unmarshalVote(value []byte) (Vote, error) {
	var v Vote
	if err := json.Unmarshal(value, &v); err != nil {
		return Vote{}, fmt.Errorf("value is not a JSON vote object: %w", err)
	}
	return v, nil
}

// Indexes of Vote's fields in the spans that parsePlainVote records.
const (
	fieldVoteID = iota
	fieldElectionID
	fieldVoterID
	fieldCandidateID
	fieldCastAt
	fieldChannel
	voteFieldCount

	// fieldUnknown is a key that json.Unmarshal ignores.
	fieldUnknown = -1
	// fieldAmbiguous is a key that json.Unmarshal may match without regard to
	// case, which parsePlainVote leaves to it.
	fieldAmbiguous = -2
)

var voteFieldNames = [voteFieldCount]string{"vote_id", "election_id", "voter_id", "candidate_id", "cast_at", "channel"}

// span is the position of a string's content in the parsed value. start is
// -1 while the field has not been seen.
type span struct{ start, end int }

// parsePlainVote fills v from value when value is one JSON object whose
// values are all strings without escape sequences, and reports whether it
// did. On false, v is unchanged and the caller falls back to json.Unmarshal,
// which also reports syntax errors, so this function never has to. value must
// be valid UTF-8. A repeated key keeps its last value, as in json.Unmarshal.
func parsePlainVote(value []byte, v *Vote) bool {
	var fields [voteFieldCount]span
	for i := range fields {
		fields[i].start = -1
	}

	i := jsonscan.SkipSpace(value, 0)
	if i == len(value) || value[i] != '{' {
		return false
	}
	i = jsonscan.SkipSpace(value, i+1)
	if i < len(value) && value[i] == '}' {
		i++
	} else {
		for {
			key, next, ok := jsonscan.String(value, i)
			if !ok || !jsonscan.Plain(key) {
				return false
			}
			i = jsonscan.SkipSpace(value, next)
			if i == len(value) || value[i] != ':' {
				return false
			}
			content, next, ok := jsonscan.String(value, jsonscan.SkipSpace(value, i+1))
			if !ok || !jsonscan.Plain(content) {
				return false
			}
			switch field := fieldOf(key); field {
			case fieldAmbiguous:
				return false
			case fieldUnknown:
			default:
				start := next - 1 - len(content)
				fields[field] = span{start, start + len(content)}
			}

			i = jsonscan.SkipSpace(value, next)
			if i == len(value) {
				return false
			}
			if value[i] == '}' {
				i++
				break
			}
			if value[i] != ',' {
				return false
			}
			i = jsonscan.SkipSpace(value, i+1)
		}
	}
	if jsonscan.SkipSpace(value, i) != len(value) {
		return false
	}

	// One string holds the whole value, and every field is a substring of it.
	s := string(value)
	targets := [voteFieldCount]*string{&v.VoteID, &v.ElectionID, &v.VoterID, &v.CandidateID, &v.CastAt, &v.Channel}
	for f, sp := range fields {
		if sp.start >= 0 {
			*targets[f] = s[sp.start:sp.end]
		}
	}
	return true
}

// fieldOf returns the index of the Vote field that key names exactly,
// fieldUnknown for a key json.Unmarshal ignores, or fieldAmbiguous for a key
// that json.Unmarshal would match without regard to case.
func fieldOf(key []byte) int {
	switch string(key) {
	case "vote_id":
		return fieldVoteID
	case "election_id":
		return fieldElectionID
	case "voter_id":
		return fieldVoterID
	case "candidate_id":
		return fieldCandidateID
	case "cast_at":
		return fieldCastAt
	case "channel":
		return fieldChannel
	}
	for _, c := range key {
		if c >= utf8.RuneSelf {
			// Some non-ASCII letters, such as the Kelvin sign, fold to ASCII ones.
			return fieldAmbiguous
		}
	}
	for _, name := range voteFieldNames {
		if len(key) == len(name) && strings.EqualFold(string(key), name) {
			return fieldAmbiguous
		}
	}
	return fieldUnknown
}
